# Two commands for people: `make demo` and `make test`. Everything else is for developers.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup demo lint test test-unit test-integration test-e2e openapi bench clean prod-local bench-load bench-scale

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[pcsc]' 2>/dev/null \
	  || echo "note: pyscard (PC/SC readers) was not installed: it builds against libpcsclite-dev and swig" \
	          "(apt-get install libpcsclite-dev swig gcc; then make clean setup). nfcpy readers work without it."
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/python scripts/demo.py $(if $(PORT),--port $(PORT))

lint: setup
	$(BIN)/ruff check mobile_api device_agent tests bench scripts
	$(BIN)/mypy

test: setup lint
	$(BIN)/python -m pytest

test-unit: setup
	$(BIN)/python -m pytest tests/unit

test-integration: setup
	$(BIN)/python -m pytest tests/integration

test-e2e: setup
	$(BIN)/python -m pytest tests/e2e

openapi: setup
	$(BIN)/flask --app mobile_api openapi write --format=json openapi/openapi.json

bench: setup
	$(BIN)/python bench/run.py

# The production topology from plain processes (PostgreSQL, migrations, OQS sandbox, gunicorn, jobs worker).
prod-local: setup
	$(BIN)/python scripts/prod_local.py

# Load benchmark against prod-local on loopback (locust headless): bench/results/server_load.json + a table.
$(VENV)/.bench-stamp: pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	touch $@

bench-load: $(VENV)/.bench-stamp
	$(BIN)/python bench/server_load.py --json bench/results/server_load.json

# Cost as data grows (an empty database, then 1 M visits and 10 M audit rows) against the floors, in one run;
# BEFORE=REV measures commit REV's tree the same way first (bench/README.md). About 9 min, 17 with BEFORE.
bench-scale: $(VENV)/.bench-stamp
	$(BIN)/python bench/server_load.py verification medical_read --data both --duration 10 --repeats 2 \
	  $(if $(BEFORE),--before $(BEFORE)) --json bench/results/server_scale.json

clean:
	rm -rf $(VENV) instance .pytest_cache *.egg-info
