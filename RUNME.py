# Databricks notebook source
# MAGIC %md
# MAGIC # RUNME: create the mediamix job
# MAGIC
# MAGIC Run this notebook from the repository's Git folder in your workspace. It creates (or, if
# MAGIC it already exists, updates) a job named **mediamix MMM accelerator** with two tasks:
# MAGIC
# MAGIC 1. `data_gen` runs `01_MMM Data Gen`: synthetic data → bronze → silver → gold tables;
# MAGIC 2. `mmm_pymc` runs `02_MMM PyMC Example` after it: fit, diagnostics, ROAS, response
# MAGIC    curves, budget optimization, MLflow run and registered model.
# MAGIC
# MAGIC By default the tasks run on serverless compute with a job environment (version 4, Python
# MAGIC 3.12) that installs `requirements.txt`; choose `cluster` for a single-node job cluster on
# MAGIC Databricks Runtime 17.3 LTS ML. It also creates the Unity Catalog Volume for your raw feeds
# MAGIC (`/Volumes/<catalog>/<schema>/raw`, widget `volume`) and the schema when missing. The
# MAGIC job's parameters are the notebooks' widgets (catalog, schema, table, configs, sampler
# MAGIC settings, MLflow experiment, model name, budget); change them on the job's page or with
# MAGIC *Run now with different parameters*. With `start_run = yes` a run starts right away and
# MAGIC its link is printed below.
# MAGIC
# MAGIC **Geo-level data** run on the same job with two parameters: `generator_config` =
# MAGIC `config/generator/geo_config.yaml` and `model_config` = `config/model/geo_config.yaml`
# MAGIC (locally: `python RUNME.py --local --param generator_config=... --param model_config=...`).
# MAGIC
# MAGIC From a laptop, the same script creates the job through the Databricks SDK's usual
# MAGIC authentication (environment variables or a `~/.databrickscfg` profile):
# MAGIC
# MAGIC ```
# MAGIC python RUNME.py --profile DEFAULT --run \
# MAGIC     --workspace-path /Workspace/Users/me@example.com/mediamix
# MAGIC python RUNME.py --dry-run     # print the job specification as JSON
# MAGIC python RUNME.py --local       # run the same two notebooks here, in order
# MAGIC ```

# COMMAND ----------

# MAGIC %pip install -q "databricks-sdk>=0.60"

# COMMAND ----------

# On Databricks, restart Python so the SDK just installed is the one imported.
if "dbutils" in globals():
    globals()["dbutils"].library.restartPython()

# COMMAND ----------

from mediamix.databricks.job import main

status = main(namespace=globals())
if status:
    raise SystemExit(status)
