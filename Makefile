# The two commands of the README: `make run` and `make test`.
# Each creates the virtualenv and installs what it needs on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

# A postgresql:// database (several replicas) needs the postgres extra: the URL is read from
# the environment, or else from .env, as clipbot reads it.
DATABASE_URL := $(or $(CLIPBOT_DATABASE_URL),$(shell sed -n "s/^CLIPBOT_DATABASE_URL=[\"']*//p" .env 2>/dev/null | tail -n 1))
RUNTIME := $(if $(filter postgres%,$(DATABASE_URL)),$(VENV)/.runtime-postgres,$(VENV)/.runtime)

.PHONY: run test bench

run: $(RUNTIME)
	$(BIN)/clipbot run

test: $(VENV)/.dev
	$(BIN)/ruff check clipbot tests bench
	$(BIN)/ruff format --check clipbot tests bench
	$(BIN)/mypy
	$(BIN)/pytest

bench: $(VENV)/.dev
	$(BIN)/python -m bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.runtime-postgres: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[postgres]'
	touch $(VENV)/.runtime $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(VENV)/.runtime $(VENV)/.runtime-postgres $@
