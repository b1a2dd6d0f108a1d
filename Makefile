# Parlay: `make run` serves the demo, `make test` runs every test suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Two stamps: `make run` needs only what serving needs; the test tools come with `make test`.
RUN_STAMP  := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
# caldav needs niquests, whose urllib3-future would otherwise overwrite urllib3 itself (a .pth
# file copies it over at every start) and break requests-based tools (schemathesis). Built from
# its source with URLLIB3_NO_OVERRIDE=1, it installs beside urllib3 under its own name.
PIP    := URLLIB3_NO_OVERRIDE=1 $(BIN)/pip install --no-binary urllib3-future
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install install-test run test test-deep lint bench clean

install: $(RUN_STAMP)

install-test: $(TEST_STAMP)

# A current pip resolves the dependencies in about half the time of the one venv bundles.
$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Parlay needs Python 3.11 or newer (set PYTHON=...)"; exit 1; }
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --no-compile --upgrade pip

# --no-compile: byte-compiling every installed module costs more than the install itself;
# Python compiles the few modules serving imports on first use.
$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	@echo "==> installing Parlay into $(VENV)"
	@$(PIP) --quiet --no-compile -e .
	@touch $(RUN_STAMP)

# The test tools include everything serving needs, so this stamp satisfies `make run` too.
$(TEST_STAMP): pyproject.toml | $(VENV)/bin/python
	@echo "==> installing Parlay and its test tools into $(VENV)"
	@$(PIP) --quiet -e '.[test]'
	@touch $(TEST_STAMP) $(RUN_STAMP)

# `parlay dev`: the demo people, the Google and Microsoft calendar emulators (8201/8202, or
# free ports when taken) with Parlay pointed at them, then `parlay serve`. Ctrl-C stops all.
run: install
	@$(BIN)/parlay dev --host $(HOST) --port $(PORT)

lint: install-test
	@echo "==> ruff"
	@$(BIN)/ruff check src tests bench
	@$(BIN)/ruff format --check src tests bench
	@echo "==> mypy"
	@$(BIN)/mypy
	@echo "==> import rules"
	@$(BIN)/lint-imports

test: lint
	@echo "==> tests"
	@$(BIN)/pytest -q -p no:cacheprovider

test-deep: install-test
	@HYPOTHESIS_PROFILE=deep $(BIN)/pytest -q -p no:cacheprovider tests/domain

bench: install-test
	@$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache test-artifacts
