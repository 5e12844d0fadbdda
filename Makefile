# Keel — two commands: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed
BIND   ?= 127.0.0.1:8000

.PHONY: run test install lint format smoke prod-smoke clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

## The embedded default: SQLite + the filesystem broker, demo data, web + worker.
run: export KEEL_EMBEDDED = 1
run: $(STAMP)
	$(PY) manage.py migrate --no-input
	$(PY) manage.py collectstatic --no-input --verbosity 0
	$(PY) manage.py load_demo
	$(PY) manage.py load_demo_statuspage
	$(PY) manage.py serve --bind $(BIND)

## The whole suite. Uses DATABASE_URL / REDIS_URL when set (CI: local PostgreSQL + Redis).
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(PYTEST_ARGS)

## What docker-compose.yml runs (migrate, gunicorn, worker, beat, nginx), without Docker,
## against the local PostgreSQL and Redis; see deploy/prod_smoke.py.
prod-smoke: $(STAMP)
	$(PY) deploy/prod_smoke.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## Start the embedded default, fetch the main pages, stop it (used by .ci/run).
smoke: $(STAMP)
	bash .ci/smoke-embedded

clean:
	rm -rf $(VENV) data/test .pytest_cache
