# syncdrop: every target bootstraps its own virtualenvs; a fresh machine needs only
# Python 3.11+, pip and make.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
REGION ?= us-east-1

.PHONY: help venv lint typecheck template build test test-unit test-integration test-e2e demo emulator clean

help:
	@echo "make demo   run the whole pipeline locally (moto + Sync emulator + local runtime)"
	@echo "make test   lint, types, template checks and every test suite"

$(VENV)/.installed: pyproject.toml requirements-dev.txt layers/common/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet -r requirements-sam.txt
	@touch $@

venv: $(VENV)/.installed $(SAM_VENV)/.installed

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy layers/common/syncdrop local/syncdrop_local functions

template: $(VENV)/.installed $(SAM_VENV)/.installed
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM) validate --lint --template template.yaml --region $(REGION)

# sam build for the python3.13 arm64 runtime without Docker: needs a local python3.13.
build: $(SAM_VENV)/.installed
	@PY313="$${PYTHON313:-$$(tools/find-python313)}" && \
	  PATH="$$(dirname "$$PY313"):$$PATH" $(SAM) build --template template.yaml --build-dir .aws-sam/build

test-unit: $(VENV)/.installed
	$(PY) -m pytest -q tests/unit

test-integration: $(VENV)/.installed
	$(PY) -m pytest -q tests/integration

test-e2e: $(VENV)/.installed
	$(PY) -m pytest -q tests/e2e

test: lint typecheck template
	$(PY) -m pytest -q -n 2 tests

demo: $(VENV)/.installed
	$(VENV)/bin/syncdrop demo

emulator: $(VENV)/.installed
	$(VENV)/bin/syncdrop emulator --port 8787 --api-key local-key --webhook-secret whsec_local

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache demo-output
