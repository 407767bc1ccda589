# Databricks notebook source
# MAGIC %md
# MAGIC # 01 · Synthetic media mix data → bronze → silver → gold
# MAGIC
# MAGIC This notebook makes the data that `02_MMM PyMC Example` learns from: weekly spend on a few
# MAGIC marketing channels and the sales they drove, written as Delta tables in three layers.
# MAGIC
# MAGIC **Why start from synthetic data?** A media mix model answers a causal question ("what did
# MAGIC each channel contribute?") that real data never answers directly. With data we generate
# MAGIC ourselves, every channel's true effect, carry-over and saturation are recorded, so we can
# MAGIC check that the model recovers them before we trust it on real spend.
# MAGIC
# MAGIC **How the outcome is made.** For each week *t* and channel *c*:
# MAGIC
# MAGIC - **adstock** (carry-over): an ad keeps working after the week it ran. Geometric adstock
# MAGIC   spreads spend over the next `l_max` weeks with weights `alpha^l` (normalized to sum to 1):
# MAGIC   `alpha = 0` means no carry-over, `alpha = 0.6` a long tail (TV, brand campaigns);
# MAGIC - **saturation** (diminishing returns): doubling spend does not double the effect.
# MAGIC   Logistic saturation `(1 - exp(-lam x)) / (1 + exp(-lam x))` of the adstocked spend,
# MAGIC   scaled by the channel's largest spend, rises steeply at first and flattens out;
# MAGIC - **effect** `beta * saturation(adstock(spend / max spend))`, in units of the outcome's
# MAGIC   scale;
# MAGIC - **sales** = baseline (intercept + trend + yearly seasonality + controls) + Σ effects
# MAGIC   + noise.
# MAGIC
# MAGIC The generator config (`config/generator/basic_config.yaml`) sets all of these per channel;
# MAGIC the same seed gives the same data, bit for bit.
# MAGIC
# MAGIC **Geo-level data**: with the widget `generator_config` set to
# MAGIC `config/generator/geo_config.yaml` (40 geos × 156 weeks × 5 channels) the data have one
# MAGIC row per week and geo, with each geo's `population`; the truth is shown nationally and per
# MAGIC geo, and gold is one long table partitioned by geo.
# MAGIC
# MAGIC **Where the data go** (the medallion layout):
# MAGIC
# MAGIC - **bronze** (`mmm_bronze_spend`, `mmm_bronze_outcome`, `mmm_bronze_controls`): the feeds
# MAGIC   as received, every value as text, with their source and row number;
# MAGIC - **silver** (`mmm_silver_*`, `mmm_quarantine`): typed, validated, deduplicated rows;
# MAGIC   rejected rows are quarantined with the rule they broke;
# MAGIC - **gold** (`mmm_gold`): one modeling-ready row per week: date, spend per channel,
# MAGIC   controls, outcome (for geo data one row per week and geo, with `geo` and `population`).
# MAGIC
# MAGIC On Databricks the tables are Unity Catalog tables `<catalog>.<schema>.mmm_*` (widgets
# MAGIC `catalog`, `schema`); run as plain Python (`python "01_MMM Data Gen.py"`), they are Delta
# MAGIC tables under `./lakehouse` (or `$MEDIAMIX_LAKEHOUSE`) and parameters come from
# MAGIC `MEDIAMIX_<NAME>` environment variables. Re-running with the same data writes nothing new.
# MAGIC
# MAGIC **Your own data**: set the widget `raw_path` to a folder of raw feeds, such as the Unity
# MAGIC Catalog Volume that RUNME creates (`/Volumes/<catalog>/<schema>/raw`) or a local folder:
# MAGIC `spend*` (long: `date, channel, spend`), `outcome*` (`date, <outcome>`) and optionally
# MAGIC `controls*` (`date, <control...>`), each a CSV/Parquet file, several files, or a
# MAGIC sub-folder of them. Section 3 then ingests those feeds instead of the synthetic data
# MAGIC (sections 1 and 2 still show the synthetic example).

# COMMAND ----------

# MAGIC %pip install -q -r requirements.txt

# COMMAND ----------

# On Databricks, restart Python so the packages just installed are the ones imported.
if "dbutils" in globals():
    globals()["dbutils"].library.restartPython()

# COMMAND ----------

# mediamix needs Python 3.12: say so plainly on an older environment, before importing it.
import sys

if sys.version_info < (3, 12):  # noqa: UP036 - the environment, not this file, decides
    raise SystemExit(
        f"mediamix needs Python 3.12 or later; this runs Python {sys.version.split()[0]}. "
        "On serverless, choose environment version 4 in the notebook's Environment panel (the "
        "job that RUNME creates sets it); on a cluster, use Databricks Runtime 16.4 LTS or later."
    )

# COMMAND ----------

from mediamix.databricks.notebook import DataGenParams, Notebook

nb = Notebook("01_data_gen", globals())
params = nb.params(DataGenParams)

# COMMAND ----------

# MAGIC %md
# MAGIC ## 1. Generate the data
# MAGIC
# MAGIC One row per week: the date, spend per channel (currency per week) and the outcome (`sales`).

# COMMAND ----------

from mediamix.databricks.display import data_columns, generate_data, national_frame, plot_data

synthetic = generate_data(nb.path(params.generator_config), seed=params.data_seed)
channels, outcome = data_columns(synthetic)
nb.show(synthetic.data.head(10), "synthetic data: first weeks")
nb.show(plot_data(national_frame(synthetic), channels, outcome), "synthetic_data")

# COMMAND ----------

# MAGIC %md
# MAGIC ## 2. The ground truth
# MAGIC
# MAGIC What the model in notebook 02 should recover: per channel the adstock retention
# MAGIC (`adstock_alpha`), the saturation steepness (`saturation_lam`), the effect at full
# MAGIC saturation (`beta`, in units of the outcome's scale), and the true **ROAS**: total
# MAGIC contribution divided by total spend over the whole period.

# COMMAND ----------

from mediamix.databricks.display import geo_truth_table, truth_table

nb.show(truth_table(synthetic.truth), "true parameters and ROAS per channel")
if isinstance(synthetic.truth, dict):  # geo data: each geo's population and true ROAS
    nb.show(geo_truth_table(synthetic.truth), "true ROAS per geo and channel")

# COMMAND ----------

# MAGIC %md
# MAGIC ## 3. Bronze → silver → gold
# MAGIC
# MAGIC The generated frame goes through exactly the steps raw feeds go through: split into a
# MAGIC long spend feed and an outcome feed (bronze), typed and validated (silver), then pivoted
# MAGIC back to one row per week (gold). With `raw_path` set, the feeds in that folder (a Volume
# MAGIC on Databricks, a local folder elsewhere: the same code reads both) go through instead.
# MAGIC Each line below is one Delta table and the version written.

# COMMAND ----------

from mediamix.lakehouse.feeds import feeds_in_folder
from mediamix.lakehouse.medallion import ingest, ingest_synthetic, table_name

if params.raw_path:
    sources = feeds_in_folder(params.raw_path)
    print("raw feeds:", sources)
    report = ingest(**sources, catalog=params.catalog, schema=params.schema)
else:
    report = ingest_synthetic(synthetic, catalog=params.catalog, schema=params.schema)
print(report.format())

# COMMAND ----------

# MAGIC %md
# MAGIC ## 4. The gold table
# MAGIC
# MAGIC The modeling table that notebook 02 reads (widget `gold_table`). Delta keeps every version:
# MAGIC a model run records the version it was fitted on.

# COMMAND ----------

from mediamix.lakehouse.tables import describe_table, read_table

gold = table_name("gold", params.catalog, params.schema)
info = describe_table(gold)
print(f"{info.name}: version {info.version}, {info.rows} rows ({info.backend})")
print(f"location: {info.location}")
nb.show(read_table(gold).head(10), f"{gold}: first rows")
