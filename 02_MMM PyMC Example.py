# Databricks notebook source
# MAGIC %md
# MAGIC # 02 · A Bayesian media mix model with PyMC
# MAGIC
# MAGIC This notebook reads the gold table written by `01_MMM Data Gen`, fits a Bayesian media
# MAGIC mix model (MMM), checks the fit, and turns the posterior into the numbers a marketing team
# MAGIC acts on: each channel's contribution and return on ad spend (ROAS), response curves, and a
# MAGIC better split of the budget. Everything is recorded in one MLflow run, and the model is
# MAGIC registered so it can be served.
# MAGIC
# MAGIC **The model.** For each week *t*, on the outcome divided by its largest value:
# MAGIC
# MAGIC ```
# MAGIC mu_t = intercept + trend + seasonality_t + controls_t
# MAGIC        + Σ_c beta_c · saturation_c( adstock_c( spend_tc / max spend_c ) )
# MAGIC y_t  ~ Normal(mu_t, sigma)
# MAGIC ```
# MAGIC
# MAGIC - **Adstock** carries spend over into later weeks (geometric weights `alpha^l`, `l_max`
# MAGIC   weeks); **saturation** bends the response so that extra spend buys less and less
# MAGIC   (logistic with steepness `lam`). `beta` is the channel's effect at full saturation.
# MAGIC - **Why Bayesian?** A few years of weekly data hold a couple of hundred points and
# MAGIC   channels whose spend moves together, so many parameter combinations explain the data
# MAGIC   almost equally well. A Bayesian fit keeps all of them, weighted by how well they explain
# MAGIC   the data and by what we believed beforehand (the **priors**). Every number below is
# MAGIC   therefore a distribution: we report its mean and a 94 % highest-density interval (HDI),
# MAGIC   the narrowest range that holds 94 % of the posterior. A wide HDI is an honest "the data
# MAGIC   cannot tell", not a failure to hide.
# MAGIC - **Priors** (set in `config/model/basic_config.yaml`): `alpha ~ Beta(1, 3)` (little
# MAGIC   carry-over unless the data say otherwise), `lam ~ Gamma(3, 1)`, `beta ~ HalfNormal(1)`
# MAGIC   (effects are non-negative, and of the order of the outcome's scale), weakly informative
# MAGIC   priors on the baseline. They regularize: with little information a parameter stays near
# MAGIC   plausible values instead of running off to extremes.
# MAGIC
# MAGIC **Geo-level data.** With the widget `model_config` set to `config/model/geo_config.yaml`
# MAGIC (and notebook 01 run with the geo generator config) the same notebook fits the hierarchical
# MAGIC geo model on the long gold table (one row per week and geo) and adds the geo views below.
# MAGIC
# MAGIC Parameters come from the widgets on Databricks (data, config, sampler, MLflow experiment
# MAGIC and model name, budget) and from `MEDIAMIX_<NAME>` environment variables when the
# MAGIC notebook runs as plain Python; empty sampler widgets use the model config's settings.

# COMMAND ----------

# MAGIC %pip install -q -r requirements.txt

# COMMAND ----------

# On Databricks, restart Python so the packages just installed are the ones imported.
if "dbutils" in globals():
    globals()["dbutils"].library.restartPython()

# COMMAND ----------

from mediamix.databricks.notebook import ModelParams, Notebook

nb = Notebook("02_mmm_pymc", globals())
params = nb.params(ModelParams)

# COMMAND ----------

# MAGIC %md
# MAGIC **Compile cache.** A job run starts on fresh compute, where compiling the model's
# MAGIC log-density takes most of a fit's time. With the widget `compile_cache` (by default `auto`:
# MAGIC the Volume folder `/Volumes/<catalog>/<schema>/cache/compile` on Databricks) the compiled
# MAGIC code of earlier runs is unpacked here before PyTensor loads, and what this run compiles is
# MAGIC saved back after the fit. The first run compiles; later runs on the same runtime skip it.

# COMMAND ----------

from mediamix.inference.compile_cache import activate

compile_cache = activate(params.compile_cache_root)  # before anything imports PyTensor
print(compile_cache.note if compile_cache else "compile cache: none")

# COMMAND ----------

# MAGIC %md
# MAGIC ## 1. The data and the model config
# MAGIC
# MAGIC The gold table is read at its current version, and that version is recorded with the run,
# MAGIC so the fit can always be traced back to the exact rows it saw.

# COMMAND ----------

from mediamix.config.model import load_model_config
from mediamix.lakehouse.tables import load_modeling_frame
from mediamix.mlops.provenance import describe_data_source

config = load_model_config(nb.path(params.model_config)).with_sampler(
    sampler=params.sampler,
    draws=params.draws,
    tune=params.tune,
    chains=params.chains,
    seed=params.sampler_seed,
)
source = describe_data_source(params.gold_table_name)
frame = load_modeling_frame(params.gold_table_name, version=int(source["version"]))
print(f"{source['table']} version {source['version']}: {len(frame)} rows")
print(f"channels: {config.channel_names}; outcome: {config.outcome.name}")
s = config.sampler
print(f"sampler: {s.sampler}, {s.chains} chains x ({s.tune} tune + {s.draws} draws)")
nb.show(frame.head(10), "modeling frame: first rows")

# COMMAND ----------

# MAGIC %md
# MAGIC ## 2. Prior predictive check
# MAGIC
# MAGIC Before fitting, simulate outcomes from the priors alone. The band should be wide (we have
# MAGIC not looked at the data yet) but on the right scale: covering the observed sales, not
# MAGIC orders of magnitude away from them. `coverage` is the share of weeks whose observed value
# MAGIC lies inside the band; `band_width_ratio` compares the band's width with the data's range.

# COMMAND ----------

from mediamix.analysis.prior_check import plot_prior_predictive, prior_predictive

prior = prior_predictive(frame, config)
nb.show(prior.summary(), "prior predictive check")
nb.show(plot_prior_predictive(prior), "prior_predictive")

# COMMAND ----------

# MAGIC %md
# MAGIC ## 3. Fit, tracked in MLflow
# MAGIC
# MAGIC NUTS (here nutpie's implementation) draws from the posterior. The run records the config,
# MAGIC the data source and version, diagnostics, ROAS per channel, figures, and a servable model
# MAGIC that predicts the outcome for a spend plan and holds the whole fit (`fit.nc`); the model
# MAGIC is registered under the `registered_model` widget (in Unity Catalog on Databricks).
# MAGIC The run stays open until the end of the notebook, so the budget allocation of section 7
# MAGIC is recorded in it too.

# COMMAND ----------

from mediamix.mlops.tracking import fit_tracked

result, run = fit_tracked(
    frame,
    config,
    data_source=source,
    experiment=params.experiment,
    register_as=params.registered_model_name,
    run_name="02_MMM PyMC Example",
    keep_open=True,
)
print(f"MLflow run {run.run_id} in experiment {run.target.experiment}")
print(f"model: {run.model_uri}; registered: {run.registered_model or run.registration_skipped}")
if compile_cache:  # the fit worked: keep what it compiled for the next run
    print(compile_cache.finish())

# COMMAND ----------

# MAGIC %md
# MAGIC ## 4. Diagnostics: can we trust the posterior?
# MAGIC
# MAGIC - **R-hat** compares chains: above 1.01 they disagree and have not converged.
# MAGIC - **ESS** (effective sample size) counts independent draws: below 400 the HDIs are noisy.
# MAGIC - **Divergences** flag regions the sampler could not explore: there should be none.
# MAGIC - **BFMI** below 0.3 means the sampler moves poorly between energy levels.
# MAGIC - **R²**, **MAPE** and **LOO** (`elpd_loo`) measure how well the model predicts the outcome.
# MAGIC
# MAGIC `converged` is true only when all sampler checks pass. The trace plots should look like
# MAGIC overlapping "fuzzy caterpillars"; the prior-vs-posterior plots show how much the data
# MAGIC taught us about each parameter (a posterior as wide as its prior: the data said little).

# COMMAND ----------

import pandas as pd

from mediamix.analysis.plots import plot_fit, plot_prior_posterior, plot_trace

nb.show(pd.Series(result.diagnostics().to_dict(), name="value"), "diagnostics")
nb.show(plot_trace(result), "trace")
nb.show(plot_prior_posterior(result), "prior_posterior")
nb.show(plot_fit(result), "fit")

# COMMAND ----------

# MAGIC %md
# MAGIC ## 5. Contributions and ROAS
# MAGIC
# MAGIC A channel's **contribution** is the part of the outcome the model attributes to it, week
# MAGIC by week, in outcome units; the **baseline** is what would have happened without media.
# MAGIC **ROAS** = total contribution / total spend: 3.0 means every unit of currency spent
# MAGIC brought three back (over the whole window, carry-over included). **Marginal ROAS** is what
# MAGIC the *next* unit of spend returns at today's level: below ROAS when the channel saturates.
# MAGIC Budget decisions should follow the marginal ROAS; ROAS says what worked on average.
# MAGIC Read the HDI columns as the range of plausible values.

# COMMAND ----------

from mediamix.analysis import metrics as analysis
from mediamix.analysis.plots import plot_contributions, plot_roas

nb.show(analysis.decomposition(result), "contribution and share of the outcome, per component")
roas = analysis.roas(result).join(analysis.marginal_roas(result).add_suffix("_marginal"))
nb.show(roas, "ROAS and marginal ROAS per channel (mean and HDI)")
nb.show(plot_contributions(result), "contributions")
nb.show(plot_roas(result), "roas")

# COMMAND ----------

# MAGIC %md
# MAGIC ### Geo-level results (geo fits only)
# MAGIC
# MAGIC With a geo model config (`config/model/geo_config.yaml`) every geo has its own channel
# MAGIC effects, partially pooled around the national ones: ROAS per geo and channel. The numbers
# MAGIC above stay national (the sum over geos). Nothing is shown for a national fit.

# COMMAND ----------

from mediamix.databricks.display import geo_views

for title, view in geo_views(result):
    nb.show(view, title)

# COMMAND ----------

# MAGIC %md
# MAGIC ## 6. Response curves
# MAGIC
# MAGIC The expected extra outcome per week if a channel's spend were held at a given level long
# MAGIC enough for carry-over to build up, with its HDI band; the dot marks current spend. Where
# MAGIC a curve is steep, more spend still pays; where it is flat, the channel is saturated.
# MAGIC Beyond the spend seen in the data the curve is extrapolation.

# COMMAND ----------

from mediamix.analysis.geo_response import steady_state_response
from mediamix.analysis.plots import plot_response_curves
from mediamix.analysis.scenarios import response_curves

response = steady_state_response(result)  # national, also for a geo fit
curves = response_curves(result, response=response)
nb.show(curves.current, "current spend per period and its expected response")
nb.show(plot_response_curves(result, curves=curves), "response_curves")

# COMMAND ----------

# MAGIC %md
# MAGIC ## 7. Budget optimization
# MAGIC
# MAGIC Split a weekly budget (widget `budget`; by default today's total) across channels to
# MAGIC maximize the expected incremental outcome over the whole posterior, within the `bounds`
# MAGIC (default: each channel within ±30 % of its current spend, so the answer stays where the
# MAGIC data have evidence). The **lift** is the optimized plan minus current spend, draw by draw;
# MAGIC `p_lift_positive` is the posterior probability that the new plan does better. The
# MAGIC frontier shows the best expected outcome for budgets around the chosen one. For a geo fit
# MAGIC the budget is national: each geo keeps its historical share of each channel's spend.

# COMMAND ----------

from mediamix.analysis.constraints import parse_bounds
from mediamix.analysis.geo_response import current_spend_of
from mediamix.analysis.optimize import budget_frontier, optimize_budget
from mediamix.analysis.plots import plot_budget
from mediamix.databricks.notebook import log_allocation

budget = params.budget or float(current_spend_of(result).sum())
bounds = parse_bounds(params.bounds_list)
allocation = optimize_budget(result, budget, bounds=bounds, response=response)
nb.show(allocation.table(), f"allocation of {budget:,.0f} per period")
print(f"expected lift per period: {allocation.lift.mean:,.0f} ", end="")
print(f"[{allocation.lift.hdi_low:,.0f}, {allocation.lift.hdi_high:,.0f}]", end="")
print(f"; P(lift > 0) = {allocation.p_lift_positive:.2f}")
nb.show(plot_budget(allocation), "budget")
frontier = budget_frontier(
    result, [budget * k for k in (0.8, 0.9, 1.0, 1.1, 1.2)], bounds=bounds, response=response
)
nb.show(frontier.table(), "efficient frontier")
log_allocation(run, allocation)

# COMMAND ----------

# MAGIC %md
# MAGIC ## 8. Calibrate with experiments (optional)
# MAGIC
# MAGIC Channels whose spend moves together are hard to tell apart from observational data alone.
# MAGIC A lift test (a go-dark or holdout test, a spend increase in test geos) measures one
# MAGIC channel's incremental outcome directly; each test enters the likelihood as
# MAGIC `lift ~ Normal(predicted lift, lift_se)`, the predicted lift coming from the same forward
# MAGIC pass as the model (see README, "Calibration with lift tests"). On the shipped synthetic
# MAGIC data we can simulate such a test from the ground truth for the channel whose ROAS is least
# MAGIC certain, lasting `calibration_weeks` weeks (widget; empty skips this section, so the default
# MAGIC job run stays fast), with the start and spend change the experiment planner suggests, then
# MAGIC refit with it and compare ROAS before and after.

# COMMAND ----------

if params.calibration_weeks:
    import numpy as np
    import pandas as pd

    from mediamix.analysis.calibration_plots import plot_lift_tests, plot_roas_before_after
    from mediamix.analysis.experiment_plan import plan_experiments
    from mediamix.analysis.experiments import simulate_lift
    from mediamix.analysis.summary import fit_summary
    from mediamix.data.generator import Generator
    from mediamix.inference.fit import fit
    from mediamix.model.calibration import resolve_calibration

    before = analysis.roas(result)
    channel = str(((before["hdi_high"] - before["hdi_low"]) / before["mean"]).idxmax())
    plan = plan_experiments(result, weeks=params.calibration_weeks, draws=500)
    nb.show(pd.DataFrame(plan), "experiment plan: expected ROAS HDI width after one test")
    design = next(p for p in plan if p["channel"] == channel)
    synthetic = Generator.from_config_file(nb.path("config/generator/basic_config.yaml")).generate()
    names = config.channel_names
    if len(synthetic.data) != len(frame) or not np.allclose(synthetic.data[names], frame[names]):
        print("the gold table is not the shipped generator's data: no truth to simulate from")
    else:
        test = simulate_lift(
            synthetic.truth.to_dict(),
            frame,
            channel,
            design["start_date"],
            design["weeks"],
            design["spend_change"],
            se_fraction=design["lift_se"] / abs(design["expected_lift"]),
            seed=1,
        )
        print(f"simulated lift test of the least certain channel: {test.row}")
        calibrated = fit(test.data, resolve_calibration(config, pd.DataFrame([test.row])))
        after = analysis.roas(calibrated)
        truth = {c: test.truth["channels"][c]["roas"] for c in names}
        nb.show(plot_roas_before_after(before, after, truth), "roas_before_after")
        nb.show(plot_lift_tests(fit_summary(calibrated)["calibration"]), "lift_tests")

# COMMAND ----------

# MAGIC %md
# MAGIC ## 9. Where the results are
# MAGIC
# MAGIC The MLflow run opened in section 3 ends here, with the allocation in it. On Databricks,
# MAGIC open the experiment (left sidebar → *Experiments*) to compare runs, and the registered
# MAGIC model in *Catalog*. Locally, start the MLflow UI with the command printed below and open
# MAGIC http://127.0.0.1:5000.

# COMMAND ----------

from mediamix.databricks.notebook import mlflow_ui_command
from mediamix.lakehouse.tables import describe_table

run.end()
if compile_cache:  # anything compiled since the fit (the calibrated refit of section 8)
    print(compile_cache.finish())
gold = describe_table(params.gold_table_name)
print(f"gold table:   {gold.name} version {gold.version} ({gold.backend}: {gold.location})")
print(f"MLflow run:   {run.run_id} (experiment {run.target.experiment})")
print(f"tracking:     {run.target.tracking_uri}")
print(f"model:        {run.model_uri}")
print(f"registered:   {run.registered_model or run.registration_skipped}")
if nb.on_databricks:
    print("MLflow UI:    open the experiment in the workspace")
else:
    print(f"MLflow UI:    {mlflow_ui_command(run)}  -> http://127.0.0.1:5000")
    print(f"figures:      {nb.output_dir}")
