# syncdrop: every target bootstraps its own virtualenvs; a fresh machine needs only
# Python 3.11+, pip and make.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
SAM_VENV := .venv-sam
# checkov pins its own boto3 and packaging, so it gets a virtualenv of its own too.
CHECKOV_VENV := .venv-checkov
# What AWS's python3.13 Lambda image provides, and nothing else: built functions run there.
LAMBDA_VENV := .venv-lambda313
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
CHECKOV := $(CHECKOV_VENV)/bin/checkov
REGION ?= us-east-1

.PHONY: help venv lambda-runtime lint typecheck template security build deploy test test-unit test-integration test-e2e soak bench demo emulator clean

help:
	@echo "make demo   run the whole pipeline locally (moto + Sync emulator + local runtime)"
	@echo "make test   lint, types, template checks, security gates and every test suite"
	@echo "make security   checkov on template.yaml, bandit on the code (docs/security.md)"

$(VENV)/.installed: pyproject.toml requirements-dev.txt requirements-translator.txt layers/common/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-translator.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet -r requirements-sam.txt
	@touch $@

$(CHECKOV_VENV)/.installed: requirements-security.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	@echo '*' > $(CHECKOV_VENV)/.gitignore  # the virtualenv ignores itself, as python3.13's do
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-security.txt
	@touch $@

# A python3.13 from tools/find-python313 (or PYTHON313); pip is removed once it has installed.
$(LAMBDA_VENV)/.installed: requirements-lambda-runtime.txt
	@PY313="$${PYTHON313:-$$(tools/find-python313)}" || { \
	  echo "$(LAMBDA_VENV) stands for the python3.13 Lambda runtime and needs a python3.13." >&2; \
	  exit 1; }; \
	  rm -rf $(LAMBDA_VENV) && "$$PY313" -m venv $(LAMBDA_VENV) && \
	  $(LAMBDA_VENV)/bin/python -m pip install --quiet --no-deps --disable-pip-version-check \
	    -r requirements-lambda-runtime.txt && \
	  $(LAMBDA_VENV)/bin/python -m pip uninstall --quiet --yes pip
	@touch $@

lambda-runtime: $(LAMBDA_VENV)/.installed

venv: $(VENV)/.installed $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed $(LAMBDA_VENV)/.installed

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy layers/common/syncdrop local/syncdrop_local functions

template: $(VENV)/.installed $(SAM_VENV)/.installed
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM) validate --lint --template template.yaml --region $(REGION)

# Zero checkov failures on the template (every skip carries its reason in the resource's
# Metadata) and zero bandit findings at any severity. --skip-download and the update-check
# switch keep checkov offline. bandit warns when a line's `# nosec` also covers calls on that
# line which pass; those warnings are not findings and are left out.
security: $(VENV)/.installed $(CHECKOV_VENV)/.installed
	CKV_SKIP_PACKAGE_UPDATE_CHECK=true $(CHECKOV) --file template.yaml \
	  --framework cloudformation --skip-download --compact --quiet
	set -o pipefail; $(VENV)/bin/bandit -q -r layers/common/syncdrop functions \
	  local/syncdrop_local -c pyproject.toml 2>&1 | { grep -v 'nosec encountered' || true; }
	@echo "bandit: no issues"

# sam build for the python3.13 arm64 runtime without Docker: needs a local python3.13.
build: $(SAM_VENV)/.installed
	@PY313="$${PYTHON313:-$$(tools/find-python313)}" && \
	  PATH="$$(dirname "$$PY313"):$$PATH" $(SAM) build --template template.yaml --build-dir .aws-sam/build

test-unit: $(VENV)/.installed
	$(PY) -m pytest -q tests/unit

test-integration: $(VENV)/.installed
	$(PY) -m pytest -q tests/integration

test-e2e: $(VENV)/.installed $(SAM_VENV)/.installed $(LAMBDA_VENV)/.installed
	$(PY) -m pytest -q tests/e2e

test: lint typecheck template security $(LAMBDA_VENV)/.installed
	$(PY) -m pytest -q -n 2 tests

# The large fault-injection run (docs/reliability.md): 20 files, 25,000 rows, every fault on.
soak: $(VENV)/.installed
	$(PY) -m pytest -q -m soak -s tests/reliability

# Performance figures (docs/performance.md), each a ratio against a baseline run alongside it;
# exits non-zero when a target is missed. A few minutes on 2 cores.
bench: $(VENV)/.installed
	$(PY) -m bench

demo: $(VENV)/.installed
	$(VENV)/bin/syncdrop demo

emulator: $(VENV)/.installed
	$(VENV)/bin/syncdrop emulator --port 8787 --api-key local-key --webhook-secret whsec_local

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) $(LAMBDA_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache demo-output

# First deploy: guided (answers saved to samconfig.toml, secrets passed as NoEcho parameters).
# Afterwards: the saved answers.
deploy: build
	@if grep -q '^\[default.deploy.parameters\]' samconfig.toml 2>/dev/null && \
	    grep -q '^stack_name' samconfig.toml; then \
	  $(SAM) deploy; \
	else \
	  $(SAM) deploy --guided; \
	fi
