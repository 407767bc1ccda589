# Two commands do everything on a fresh machine:
#   make test   set up / update .venv, then ruff, mypy and pytest
#   make run    set up / update .venv, then run the whole local pipeline
SHELL := /bin/bash
VENV ?= .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXTRAS ?= dev
export MPLBACKEND ?= Agg

.PHONY: help env test lint typecheck pytest run bench clean

help:
	@echo "make test   - create/update the environment, then ruff, mypy and pytest"
	@echo "make run    - create/update the environment, then run the local pipeline"
	@echo "make bench  - benchmarks (writes docs/benchmarks.md)"

# The environment is rebuilt only when the dependency lists change.
$(STAMP): pyproject.toml requirements.txt scripts/find-python
	@if [ ! -x "$(VPY)" ] || ! "$(VPY)" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
		PY=$$(scripts/find-python) || exit 1; \
		echo "Creating $(VENV) with $$PY"; \
		rm -rf "$(VENV)" && "$$PY" -m venv "$(VENV)" || exit 1; \
	fi
	"$(VPY)" -m pip install -q --disable-pip-version-check --upgrade pip uv
	"$(VENV)/bin/uv" pip install -q --python "$(VPY)" -e ".[$(EXTRAS)]"
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

run: $(STAMP)
	$(VPY) -m mediamix generate --config config/generator/basic_config.yaml --out data/synthetic.csv --truth data/truth.json

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
