# Two commands do everything on a fresh machine:
#   make test   set up / update .venv, then ruff, mypy and pytest
#   make run    set up / update .venv, then run the whole local pipeline
SHELL := /bin/bash
VENV ?= .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXTRAS ?= dev
export MPLBACKEND ?= Agg

# Benchmarks: PyMC-Marketing lives in a venv of its own (its pins conflict with ours), built
# with .venv's interpreter and uv, and rebuilt only when its requirements file changes.
BENCH_VENV ?= .venv-bench
BENCH_PY := $(BENCH_VENV)/bin/python
BENCH_STAMP := $(BENCH_VENV)/.installed
BENCH_REQS := bench/requirements-pymc-marketing.txt
BENCH_ARGS ?=
# Google Meridian (TensorFlow Probability, CPU) for the geo benchmark, likewise in a venv of its own.
MERIDIAN_VENV ?= .venv-meridian
MERIDIAN_PY := $(MERIDIAN_VENV)/bin/python
MERIDIAN_STAMP := $(MERIDIAN_VENV)/.installed
MERIDIAN_REQS := bench/requirements-meridian.txt

# The Spark backend is tested under pyspark 3.5 too (Databricks Runtime 16.4 LTS), in a venv of
# its own built with .venv's interpreter and uv, rebuilt only when its requirements change.
SPARK35_VENV ?= .venv-spark35
SPARK35_PY := $(SPARK35_VENV)/bin/python
SPARK35_STAMP := $(SPARK35_VENV)/.installed
SPARK35_REQS := tests/requirements-spark35.txt

.PHONY: help env test lint typecheck pytest run app bench bench-env meridian-env recovery recovery-calibration scale bench-geo-memory clean bundle spark35-env spark35-test

help:
	@echo "make test   - create/update the environment, then ruff, mypy and pytest"
	@echo "make run    - create/update the environment, then run the local pipeline"
	@echo "make app    - the budget planner on http://127.0.0.1:8050 over the model 'make run'"
	@echo "              registered (APP_FIT=DIR or models:/NAME/VERSION for another fit)"
	@echo "make bench     - mediamix vs PyMC-Marketing, speed and accuracy, and the geo model vs"
	@echo "                 Google Meridian on 40 geos (writes docs/benchmarks.md)"
	@echo "make scale     - fit-many on local[2]: 40 groups, efficiency (writes docs/scale.json)"
	@echo "make bench-geo-memory - peak memory of a 200 geos x 156 weeks x 10 channels fit, short"
	@echo "                 chains, projected to 4 x 1000 draws (a section of docs/benchmarks.md)"
	@echo "make recovery  - ROAS recovery study over many seeds, national and geo (docs/recovery.md)"
	@echo "make recovery-calibration - with and without lift tests (a section of docs/recovery.md)"
	@echo "                 both take BENCH_ARGS, e.g. BENCH_ARGS='--datasets a --draws 200 --tune 200'"
	@echo "make meridian-env - Google Meridian's venv (.venv-meridian) for the geo benchmark"
	@echo "make spark35-test - the Spark backend's tests under pyspark 3.5 (in .venv-spark35)"
	@echo "make bundle    - regenerate databricks.yml from the job's Python specification"

# The environment is rebuilt only when the dependency lists change. Packages are byte-compiled
# at install: where PYTHONDONTWRITEBYTECODE is set, nothing else would, and every process would
# compile PyMC's stack from source again (importing it: 6.6 s instead of 2.1 s).
$(STAMP): pyproject.toml requirements.txt scripts/find-python
	@if [ ! -x "$(VPY)" ] || ! "$(VPY)" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
		PY=$$(scripts/find-python) || exit 1; \
		echo "Creating $(VENV) with $$PY"; \
		rm -rf "$(VENV)" && "$$PY" -m venv "$(VENV)" || exit 1; \
	fi
	"$(VPY)" -m pip install -q --disable-pip-version-check --upgrade pip uv
	"$(VENV)/bin/uv" pip install -q --compile-bytecode --python "$(VPY)" -e ".[$(EXTRAS)]"
	@touch $(STAMP)

env: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(VPY) -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

# The whole accelerator locally: RUNME's job (01 data gen -> 02 model) as plain Python.
run: $(STAMP)
	$(VPY) RUNME.py --local

# The budget planner over every version of the model `make run` registers as `mmm` in
# ./mlflow.db (its fit is each version's run artifact fit/fit.nc, under ./mlruns).
APP_FIT ?= models:/mmm
APP_ARGS ?=
app: $(STAMP)
	MLFLOW_TRACKING_URI=$${MLFLOW_TRACKING_URI:-sqlite:///$(CURDIR)/mlflow.db} \
		$(VPY) -m mediamix app --fit $(APP_FIT) $(APP_ARGS)

$(BENCH_STAMP): $(BENCH_REQS) | $(STAMP)
	rm -rf "$(BENCH_VENV)"
	"$(VENV)/bin/uv" venv -q --python "$$("$(VPY)" -c 'import sys; print(sys._base_executable)')" "$(BENCH_VENV)"
	"$(VENV)/bin/uv" pip install -q --compile-bytecode --python "$(BENCH_PY)" -r $(BENCH_REQS)
	@touch $(BENCH_STAMP)

bench-env: $(BENCH_STAMP)

$(MERIDIAN_STAMP): $(MERIDIAN_REQS) | $(STAMP)
	rm -rf "$(MERIDIAN_VENV)"
	"$(VENV)/bin/uv" venv -q --python "$$("$(VPY)" -c 'import sys; print(sys._base_executable)')" "$(MERIDIAN_VENV)"
	"$(VENV)/bin/uv" pip install -q --compile-bytecode --python "$(MERIDIAN_PY)" -r $(MERIDIAN_REQS)
	@touch $(MERIDIAN_STAMP)

meridian-env: $(MERIDIAN_STAMP)

bench: $(STAMP) $(BENCH_STAMP) $(MERIDIAN_STAMP)
	$(VPY) -m bench --study speed --bench-python $(BENCH_PY) --meridian-python $(MERIDIAN_PY) $(BENCH_ARGS)

# national datasets (a, b) into docs/recovery.md; the 40-geo dataset into docs/recovery_geo.md
recovery: $(STAMP)
	$(VPY) -m bench --study recovery $(BENCH_ARGS)
	$(VPY) -m bench --study recovery --datasets geo --doc docs/recovery_geo.md --json docs/recovery_geo.json $(BENCH_ARGS)

# lift tests on the planner's top channels, dataset (b), 10 seeds (a section of docs/recovery.md)
recovery-calibration: $(STAMP)
	$(VPY) -m bench --study calibration --datasets b --seeds 10 $(BENCH_ARGS)

# peak memory of a 200-geo fit, measured with short chains and projected to 4 x 1000 draws
bench-geo-memory: $(STAMP)
	$(VPY) -m bench --study geo-memory $(BENCH_ARGS)

# fit-many on local Spark: 40 groups x 104 weeks x 3 channels (writes docs/scale.json)
scale: $(STAMP)
	$(VPY) -m bench --study scale $(BENCH_ARGS)

$(SPARK35_STAMP): $(SPARK35_REQS) pyproject.toml requirements.txt | $(STAMP)
	rm -rf "$(SPARK35_VENV)"
	"$(VENV)/bin/uv" venv -q --python "$$("$(VPY)" -c 'import sys; print(sys._base_executable)')" "$(SPARK35_VENV)"
	"$(VENV)/bin/uv" pip install -q --compile-bytecode --python "$(SPARK35_PY)" -e . -r $(SPARK35_REQS)
	@touch $(SPARK35_STAMP)

spark35-env: $(SPARK35_STAMP)

spark35-test: $(SPARK35_STAMP)
	$(SPARK35_PY) -m pytest -q -p no:cacheprovider tests/lakehouse/test_lake_spark.py

# databricks.yml is generated from mediamix/databricks/job_spec.py (a test checks it is current)
bundle: $(STAMP)
	$(VPY) -m mediamix.databricks.bundle

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(MERIDIAN_VENV) $(SPARK35_VENV) .mypy_cache .pytest_cache .ruff_cache
