# Parlay: `make run` serves the demo, `make test` runs every test suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install run test test-deep lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Parlay needs Python 3.11 or newer (set PYTHON=...)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "==> installing Parlay and its test tools into $(VENV)"
	@$(BIN)/pip install --quiet -e '.[test]'
	@touch $(STAMP)

run: install
	@$(BIN)/parlay db upgrade
	@echo "==> demo people (sign in with any of them):"
	@$(BIN)/parlay demo
	@echo "==> open http://$(HOST):$(PORT)/ (Ctrl-C stops)"
	@$(BIN)/parlay serve --host $(HOST) --port $(PORT)

lint: install
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

test-deep: install
	@HYPOTHESIS_PROFILE=deep $(BIN)/pytest -q -p no:cacheprovider tests/domain

bench: install
	@$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache test-artifacts
