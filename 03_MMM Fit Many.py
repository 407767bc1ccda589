# Databricks notebook source
# MAGIC %md
# MAGIC # 03 · Many media mix models on Spark
# MAGIC
# MAGIC Large advertisers run one MMM per brand, market or product line: tens to thousands of
# MAGIC independent models, refreshed every week. This notebook fits one model per value of a
# MAGIC group column with Spark's `groupBy(group).applyInPandas(...)`: each group's rows go to one
# MAGIC Python worker, which validates them, samples, summarises, writes the group's files and
# MAGIC returns one result row per channel. The cluster's workers are the parallelism: a cluster
# MAGIC with N workers of C cores fits N × C groups at a time.
# MAGIC
# MAGIC - **A bad group fails alone**: negative spend, too few rows or a missing outcome is
# MAGIC   reported in that group's row (and in `status.csv`) with the column and rows, and every
# MAGIC   other group completes.
# MAGIC - **Compile once**: the model's log-density is compiled once per structure and cached on
# MAGIC   disk; each worker's later groups load it instead of compiling again.
# MAGIC - **Recorded once, from the driver**: the results table `mmm_fit_many` gets one version
# MAGIC   per run, and MLflow one parent run with a child run per group.
# MAGIC
# MAGIC Parameters come from the widgets on Databricks and from `MEDIAMIX_<NAME>` locally. With
# MAGIC `synthetic_groups` set, that many synthetic groups (each with its own known truth) are
# MAGIC written to the groups table first; empty it to fit a table of your own.

# COMMAND ----------

# MAGIC %pip install -q -r requirements.txt

# COMMAND ----------

# On Databricks, restart Python so the packages just installed are the ones imported.
if "dbutils" in globals():
    globals()["dbutils"].library.restartPython()

# COMMAND ----------

import os

from mediamix.databricks.notebook import Notebook
from mediamix.scaleout.params import FitManyParams

nb = Notebook("03_fit_many", globals())
params = nb.params(FitManyParams)

# COMMAND ----------

# MAGIC %md
# MAGIC ## 1. Spark and the groups' data
# MAGIC
# MAGIC On Databricks the cluster's session is used; as plain Python a local session
# MAGIC (`MEDIAMIX_SPARK_MASTER`, default `local[2]`) starts, or, without pyspark, the groups run
# MAGIC one after another in this process.

# COMMAND ----------

from mediamix.lakehouse.tables import read_table, write_table
from mediamix.scaleout.spark import local_session, pyspark_available

if nb.on_databricks:
    session = globals()["spark"]
elif pyspark_available():
    session = local_session(os.environ.get("MEDIAMIX_SPARK_MASTER", "local[2]"))
else:
    session = None
if session is not None:
    print(f"Spark {session.version}: {session.sparkContext.defaultParallelism} task slots")

if params.synthetic_groups:
    from mediamix.data.generator import Generator, generate_groups

    generator = Generator.from_config_file(nb.path(params.generator_config))
    grouped = generate_groups(generator, params.synthetic_groups)
    written = write_table(grouped.data, params.groups_table_name)
    print(f"{written.table} version {written.version}: {params.synthetic_groups} groups")

if nb.on_databricks:
    data = session.table(params.groups_table_name)  # stays on the cluster, never on the driver
else:
    data = read_table(params.groups_table_name)
    nb.show(data.groupby(params.group_by).size().rename("rows").to_frame(), "rows per group")

# COMMAND ----------

# MAGIC %md
# MAGIC ## 2. Fit every group
# MAGIC
# MAGIC Each Spark task fits one group with its chains on one core; `status` is `ok`, `failed`
# MAGIC (with the error) or `skipped` (with `resume = yes`: data and config unchanged since the
# MAGIC group last succeeded).

# COMMAND ----------

from mediamix.config.model import load_model_config
from mediamix.scaleout.runner import fit_many

config = load_model_config(nb.path(params.model_config)).with_sampler(
    sampler=params.sampler, draws=params.draws, tune=params.tune, chains=params.chains
)
out_dir = params.out_dir(nb.on_databricks)
if nb.on_databricks and not params.fit_many_dir:
    # the default folder is a Volume, which every worker of the cluster can write
    session.sql(f"CREATE VOLUME IF NOT EXISTS {params.catalog}.{params.schema}.fit_many")
result = fit_many(data, params.group_by, config, out_dir, spark=session, resume=params.resume_flag)
counts = result.status["status"].value_counts().to_dict()
print(f"{len(result.status)} groups on {result.engine} in {result.wall_seconds:.0f} s: {counts}")
nb.show(result.status.drop(columns=["fingerprint"]), "status per group")
if len(result.failed):
    nb.show(result.failed[[params.group_by, "error"]], "failed groups")

# COMMAND ----------

# MAGIC %md
# MAGIC ## 3. Results: ROAS per group and channel, recorded in Delta and MLflow

# COMMAND ----------

from mediamix.scaleout.record import log_fit_many, new_run_id, write_results_table

ok = result.results[result.results["status"] != "failed"]
roas = ok.pivot(index=params.group_by, columns="channel", values="roas_mean")
nb.show(roas.round(3), "ROAS (posterior mean) per group and channel")
if params.synthetic_groups:  # the truth is known: how often does the HDI hold it?
    true = {(g, c): t.roas[c] for g, t in grouped.truths.items() for c in t.roas}
    pairs = zip(ok[params.group_by], ok["channel"], strict=True)
    ok = ok.assign(true_roas=[true[k] for k in pairs])
    inside = (ok["roas_hdi_low"] <= ok["true_roas"]) & (ok["true_roas"] <= ok["roas_hdi_high"])
    print(f"true ROAS inside the HDI for {inside.mean():.0%} of {len(ok)} (group, channel) pairs")

run_id = new_run_id()
table = write_results_table(result, run_id, table=f"{params.catalog}.{params.schema}.mmm_fit_many")
parent = log_fit_many(
    result,
    config,
    run_id,
    data_source={"table": params.groups_table_name},
    experiment=params.experiment,
)
print(f"results table: {table.table} version {table.version} ({table.rows} rows)")
print(f"MLflow parent run {parent} (experiment {params.experiment}), a child run per group")
print(f"per-group files: {out_dir}/<group>/summary.json, fit.nc; {out_dir}/status.csv")
