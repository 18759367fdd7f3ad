# Every routine, one target each. The virtual environment is made on first use: `make serve` installs only
# what serving needs; `make test` adds the development tools, the benchmarks' baselines and the SDK.
VENV ?= .venv
PY := $(VENV)/bin/python
SERVE_STAMP := $(VENV)/.installed-serve
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: serve test lint browser bench messages clean

$(SERVE_STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e .
	touch $(SERVE_STAMP)

$(DEV_STAMP): pyproject.toml clients/python/pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]' -e ./clients/python
	touch $(DEV_STAMP) $(SERVE_STAMP)

## Start the gateway on its embedded default (SQLite under ./.cauri, in-process, sandbox).
serve: $(SERVE_STAMP)
	$(VENV)/bin/cauri serve

## Lint, type-check and run every test on SQLite and PostgreSQL (browser tests in Debian's Chromium), in two
## processes (each creates and drops its own databases): the suite is ~1,600 tests.
test: lint browser
	$(PY) -m pytest -n 2

# The browser tests drive Debian's Chromium (Playwright cannot download browsers here).
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq chromium; } \
	  || { echo "install Debian's chromium package (sudo apt-get install chromium)"; exit 1; }

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check src tests bench clients examples
	$(VENV)/bin/ruff format --check src tests bench clients examples
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --strict clients/python/src/cauri_client

## Load benchmarks (see bench/README.md).
bench: $(DEV_STAMP)
	$(PY) bench/run.py

## Extract every message into src/cauri/i18n/messages.pot and bring the French catalogue up to date
## (new messages arrive empty: translate them; tests/i18n fails until you do).
messages: $(DEV_STAMP)
	$(VENV)/bin/pybabel extract --mapping-file=babel.cfg --output-file=src/cauri/i18n/messages.pot \
	  --no-wrap --sort-output --add-location=file .
	$(VENV)/bin/pybabel update --input-file=src/cauri/i18n/messages.pot --output-dir=src/cauri/i18n/translations \
	  --domain=messages --locale=fr --no-wrap --no-fuzzy-matching --ignore-obsolete

clean:
	rm -rf $(VENV) .cauri .pytest_cache .mypy_cache .ruff_cache .hypothesis
