# ddbload — run `make help` for the list. Every target builds the venv it needs.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.8
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.synced: pyproject.toml uv.lock
	@test -x $(PY) || python3 -m venv $(VENV)
	@test -x $(UV) || $(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) sync --frozen --all-extras --quiet
	@touch $@

venv: $(VENV)/.synced ## create .venv with the locked dependencies (uv.lock)

test: venv ## run every test (real MariaDB on 127.0.0.1:3306, moto for AWS)
	$(PY) -m pytest -n 2 --dist loadgroup

demo: venv ## run the whole pipeline locally (moto + MariaDB), then reconcile
	$(VENV)/bin/ddbload demo

bench: venv ## benchmarks against baselines; figures to bench/results.json
	$(PY) -m bench

reliability: venv ## faults and attacks, tried and counted; writes docs/RELIABILITY.md (<= 10 min)
	$(PY) -m reliability

lint: venv ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

synth: venv node_modules/.installed ## cdk synth, offline, no credentials
	npx --no-install cdk synth --quiet

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

lock: ## re-resolve uv.lock after editing pyproject.toml
	$(UV) lock

clean: ## remove build output and local state (not .venv)
	rm -rf cdk.out .state bench/work .pytest_cache .hypothesis

.PHONY: help venv test demo bench reliability lint synth lock clean
