# Allmende: every target installs what it needs (Python venv from requirements.lock,
# npm packages from package-lock.json) before it runs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_PY := $(VENV)/.installed
STAMP_NPM := node_modules/.installed
DATA_DIR ?= .allmende

.PHONY: run devnet test bench lint typecheck compile setup clean

setup: $(STAMP_PY) $(STAMP_NPM)

$(STAMP_PY): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(STAMP_NPM): package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: setup
	$(VENV)/bin/allmende serve --demo --data-dir $(DATA_DIR)

devnet: setup
	$(VENV)/bin/allmende devnet --data-dir $(DATA_DIR)/devnet

test: setup
	$(PY) -m pytest -n 2 --hypothesis-profile=ci

bench: setup
	$(PY) -m scripts.bench

compile: setup
	$(VENV)/bin/allmende compile

lint: setup
	$(VENV)/bin/ruff check ledger governance api scripts tests
	$(VENV)/bin/ruff format --check ledger governance api scripts tests

typecheck: setup
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) node_modules $(DATA_DIR)
