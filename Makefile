# Custodia: the two commands a newcomer needs.
#   make run   -- virtualenv, install, migrate, demo data, web + Celery worker + beat
#   make test  -- lint, migration, translation and API schema checks, the whole test
#                 suite on SQLite and again on a throwaway PostgreSQL (both with real
#                 Redis), then the API fuzzing run (make fuzz-api); the SQLite run also
#                 runs the production stack end to end and every benchmark at a tiny size
#   make serve -- the production profile on this machine (gunicorn, two Celery workers,
#                 beat) against the PostgreSQL and Redis given by the environment

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_MEMBERS ?= 300
PYTEST_ARGS ?=

.PHONY: run serve test install lint checks pytest pytest-postgres fuzz-api messages clean-var help

help:
	@echo "make run    start the portal on http://$(HOST):$(PORT)/ with demo data, a worker and beat"
	@echo "make test   run every check and the whole test suite (what CI runs)"
	@echo "make serve  run the production profile locally (README: Production)"

$(BIN)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Custodia needs Python 3.11, found " + sys.version.split()[0]'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/python manage.py migrate --noinput -v 0
	$(BIN)/python manage.py seed_demo --members $(DEMO_MEMBERS) --portal-url http://$(HOST):$(PORT)
	@echo ""
	@echo "  Custodia is starting on http://$(HOST):$(PORT)/  (operations console: http://$(HOST):$(PORT)/ops/)"
	@echo "  SMS codes are written to var/sms-outbox.jsonl and shown at http://$(HOST):$(PORT)/dev/sms/"
	@echo "  Press Ctrl-C to stop the web server, the worker and beat together."
	@echo ""
	@# Ctrl-C or SIGTERM (an IDE, a supervisor) stops all three within seconds: config/run.py.
	@exec $(BIN)/python -m config.run --host $(HOST) --port $(PORT)

# The production stack: what production runs (config/serve.py): migrate, collectstatic, gunicorn
# (config/gunicorn.py), WORKERS Celery workers and beat, in the foreground. The
# environment gives CUSTODIA_PROFILE=production's settings (README: Production).
WORKERS ?= 2
WORKER_CONCURRENCY ?= 2
serve: install
	CUSTODIA_PROFILE=production $(BIN)/python -m config.serve --workers $(WORKERS) --worker-concurrency $(WORKER_CONCURRENCY)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

messages: install
	@if command -v msgfmt >/dev/null; then \
	  $(BIN)/python manage.py compilemessages --ignore=.venv --ignore=.venv-fuzz -v 0; \
	elif [ "$$CI" = "true" ]; then echo "CI needs gettext (msgfmt) for compilemessages" >&2; exit 1; \
	else echo "msgfmt not found: skipping compilemessages (apt-get install gettext)"; fi

checks: install messages
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null

# The fault-injection suite (tests/integration/test_recovery.py) restarts PostgreSQL
# under the test: it runs in the PostgreSQL pass only.
pytest: install
	$(BIN)/pytest -m "not faultinjection" $(PYTEST_ARGS)

# The production-stack test and the benchmarks' tiny runs start their own PostgreSQL:
# they run once, in the SQLite run above.
pytest-postgres: install
	$(BIN)/pytest --postgres -m "not browser and not stack and not bench" $(PYTEST_ARGS)

# The REST API: schemathesis against a throwaway portal, in its own virtualenv (.venv-fuzz).
fuzz-api: install
	BIN=$(BIN) PYTHON=$(PYTHON) .ci/fuzz-api

test: lint checks fuzz-api pytest pytest-postgres

# A developer's loop, not CI's: the SQLite suite spread over every core (pytest-xdist),
# each worker keeping its test database under var/test-databases/ between runs
# (PYTEST_ARGS=--create-db makes them afresh after switching to other migrations).
.PHONY: test-fast
test-fast: install
	$(BIN)/pytest -n auto --reuse-db $(PYTEST_ARGS)

clean-var:
	rm -rf var
