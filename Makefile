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

# checkov pins boto3 exactly, so it lives in its own locked environment (tools/checkov).
CHECKOV_VENV := .venv-checkov
$(CHECKOV_VENV)/.synced: tools/checkov/pyproject.toml tools/checkov/uv.lock $(VENV)/.synced
	UV_PROJECT_ENVIRONMENT=$(CURDIR)/$(CHECKOV_VENV) $(UV) sync --frozen --quiet --project tools/checkov --python $(PY)
	@touch $@

venv: $(VENV)/.synced $(CHECKOV_VENV)/.synced ## create .venv (uv.lock) and .venv-checkov (tools/checkov/uv.lock)

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

deploy: venv node_modules/.installed ## first or next deploy: CA bundle, synth, bootstrap check, cdk deploy (docs/DEPLOY.md)
	$(PY) tools/deploy.py ca-bundle
	npx --no-install cdk synth --quiet
	$(PY) tools/deploy.py preflight
	npx --no-install cdk deploy --app cdk.out --require-approval broadening $(CDK_ARGS)

destroy: venv node_modules/.installed ## delete the stack; says first what it keeps (tables, buckets, protected database)
	$(PY) tools/deploy.py kept
	npx --no-install cdk destroy $(CDK_ARGS)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

lock: ## re-resolve uv.lock after editing pyproject.toml
	$(UV) lock
	$(UV) lock --project tools/checkov

clean: ## remove build output and local state (not .venv)
	rm -rf cdk.out .state bench/work .pytest_cache .hypothesis

.PHONY: help venv test demo bench reliability lint synth deploy destroy lock clean
