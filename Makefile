# The two commands of the README: `make run` and `make test`. Everything else is a
# step they depend on, usable on its own.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# openapi-python-client (the generated-client test) pins typer < 0.28, which clashes with
# the service's typer: it gets a virtual environment of its own.
CODEGEN := .venv-codegen
CODEGEN_VERSION := 0.29.1
CODEGEN_STAMP := $(CODEGEN)/.installed-$(CODEGEN_VERSION)

.PHONY: run test setup codegen services lint typecheck pytest test-slow bench clean

run: setup ## install and run the service in embedded mode on http://127.0.0.1:8000
	$(BIN)/vstage serve --host 127.0.0.1 --port 8000

test: setup codegen services lint typecheck pytest ## install everything and run the whole suite

setup: $(STAMP)

codegen: $(CODEGEN_STAMP) ## the OpenAPI client generator, for the generated-client test

$(STAMP): pyproject.toml constraints.txt
	command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch==2.13.0 (pinned in pyproject) resolves to the machine's local CPU build.
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[ml,dev]'
	touch $(STAMP)

$(CODEGEN_STAMP): constraints-codegen.txt
	test -x $(CODEGEN)/bin/python || $(PYTHON) -m venv $(CODEGEN)
	$(CODEGEN)/bin/python -m pip install -q -c constraints-codegen.txt 'openapi-python-client==$(CODEGEN_VERSION)'
	touch $(CODEGEN_STAMP)

services: ## make sure PostgreSQL (and Chromium for browser tests) are there
	bash scripts/ensure-services.sh

lint:
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-slow: setup codegen services ## the slow tests and the long scenarios
	$(BIN)/python -m pytest -q -m slow

bench: setup services ## every benchmark, each printing its JSON line last
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[ml,dev,bench]'
	for b in queue engine api fleet; do $(BIN)/python -m benchmarks.$$b --quick; done

clean:
	rm -rf $(VENV) $(CODEGEN) var .mypy_cache .ruff_cache .pytest_cache
