# Two commands for people: `make demo` and `make test`. Everything else is for developers.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup demo test test-unit test-integration test-e2e openapi bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/python scripts/demo.py $(if $(PORT),--port $(PORT))

test: setup
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

clean:
	rm -rf $(VENV) instance .pytest_cache *.egg-info
