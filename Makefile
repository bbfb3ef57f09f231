# Allmende: every target installs what it needs (Python venv from requirements.lock,
# npm packages from package-lock.json) before it runs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_PY := $(VENV)/.installed
STAMP_NPM := node_modules/.installed
# Slither has a virtual environment of its own: it brings solc-select, whose `solc` downloads compilers.
SLITHER_VENV := .venv-slither
STAMP_SLITHER := $(SLITHER_VENV)/.installed
SLITHER_PASSED := $(SLITHER_VENV)/.passed
SLITHER_INPUTS := $(shell find contracts -name '*.sol') contracts/slither-triage.json scripts/solc \
  scripts/slither_gate.py package-lock.json
DATA_DIR ?= .allmende
PORT ?= 8000
CHROMIUM := /usr/bin/chromium

.PHONY: run devnet test bench bench-scale lint typecheck compile setup browser fonts messages slither clean

setup: $(STAMP_PY) $(STAMP_NPM) fonts

$(STAMP_PY): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(STAMP_NPM): package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: setup
	$(VENV)/bin/allmende serve --demo --data-dir $(DATA_DIR) --port $(PORT)

devnet: setup
	$(VENV)/bin/allmende devnet --data-dir $(DATA_DIR)/devnet

test: setup browser fonts $(SLITHER_PASSED)
	$(PY) -m pytest -n 2 --dist loadfile --hypothesis-profile=ci --durations=30

# The client pages' browser tests drive Debian's Chromium (never a browser Playwright downloads).
# Present: nothing to do. Missing: installed with apt-get when we are root, else a clear refusal.
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
	    echo "The browser tests need Debian's chromium at $(CHROMIUM): install it as root" \
	      "('apt-get install chromium'), or leave them out: $(PY) -m pytest -n 2 -m 'not browser'" >&2; \
	    exit 1; \
	  fi; \
	  echo "installing Debian's chromium for the browser tests"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq chromium >/dev/null 2>&1 || \
	    { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || exit 1; \
	  test -x $(CHROMIUM) || { echo "apt-get did not install $(CHROMIUM)" >&2; exit 1; }; \
	fi

# Static analysis: fails on a finding of medium or higher impact not triaged in
# contracts/slither-triage.json. `make test` reruns it only when a contract, the triage or the
# toolchain changed since it last passed.
slither: setup $(STAMP_SLITHER)
	$(PY) -m scripts.slither_gate
	@touch $(SLITHER_PASSED)

$(SLITHER_PASSED): $(SLITHER_INPUTS) $(STAMP_SLITHER) $(STAMP_NPM) $(STAMP_PY)
	$(PY) -m scripts.slither_gate
	touch $@

$(STAMP_SLITHER): scripts/slither/requirements.lock
	$(PYTHON) -m venv $(SLITHER_VENV)
	$(SLITHER_VENV)/bin/pip install --quiet --disable-pip-version-check -r scripts/slither/requirements.lock
	touch $@

# The voucher cards embed Debian's Noto (and DejaVu) fonts so every name prints in its own script.
# Present: nothing to do. Missing: installed with apt-get when we are root, else a clear refusal.
FONTS := /usr/share/fonts/truetype/noto/NotoSans-Regular.ttf /usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf /usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf
fonts:
	@for f in $(FONTS); do [ -f $$f ] || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
	    echo "The voucher cards need Debian's fonts-noto-core and fonts-dejavu-core: install them as root" >&2; \
	    exit 1; \
	  fi; \
	  echo "installing Debian's fonts for the voucher cards"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq fonts-noto-core fonts-dejavu-core >/dev/null 2>&1 || \
	    { apt-get update -qq && apt-get install -y -qq fonts-noto-core fonts-dejavu-core >/dev/null; } || exit 1; \
	fi

# The message catalogs of the client pages and voucher cards: extract the messages into the template
# and merge it into every language's catalog (new messages then wait, untranslated, for a translator;
# tests/pages/test_i18n.py fails until every one is translated). Compiled when the gateway starts.
LOCALE := api/pages/locale
messages: setup
	$(VENV)/bin/pybabel extract -F babel.cfg -k t -k N_ -k tn:1,2 -k translate_plural:2,3 --no-location --sort-output --width 100 \
	  --omit-header -o $(LOCALE)/messages.pot .
	$(VENV)/bin/pybabel update -i $(LOCALE)/messages.pot -d $(LOCALE) -D messages \
	  --no-fuzzy-matching --ignore-obsolete --width 100

bench: setup
	$(PY) -m scripts.bench

# A city: 100,000 clients vs 1,000 (SCALE_CLIENTS=... SCALE_BASELINE=... for a smaller run);
# writes benchmarks/scale.json and docs/benchmarks-scale.md. SCALE_NODE=anvil runs each deployment on
# an anvil node of its own and writes benchmarks/scale-anvil.json and docs/benchmarks-scale-anvil.md;
# SCALE_PAYMENTS=5 pays every client five times (with anvil: 500,000 payments, over 1,000,000 events).
SCALE_CLIENTS ?= 100000
SCALE_BASELINE ?= 1000
SCALE_NODE ?= embedded
SCALE_PAYMENTS ?= 1
bench-scale: setup
	$(PY) -m scripts.bench_scale --clients $(SCALE_CLIENTS) --baseline $(SCALE_BASELINE) \
	  --node $(SCALE_NODE) --payments-per-client $(SCALE_PAYMENTS)

compile: setup
	$(VENV)/bin/allmende compile

lint: setup
	$(VENV)/bin/ruff check ledger governance api scripts tests
	$(VENV)/bin/ruff format --check ledger governance api scripts tests

typecheck: setup
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) $(SLITHER_VENV) node_modules $(DATA_DIR)
