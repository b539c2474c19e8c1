# The two commands a new machine needs: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck unit integration bench dist clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[emulator]"
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

$(VENV)/.bench-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test,bench]"
	touch $@

demo: $(VENV)/.demo-installed
	$(BIN)/python examples/quickstart.py

lint: $(VENV)/.test-installed
	$(BIN)/ruff check langchain_qwen_vl tests examples bench scripts
	$(BIN)/ruff format --check langchain_qwen_vl tests examples bench scripts

typecheck: $(VENV)/.test-installed
	$(BIN)/mypy langchain_qwen_vl

unit: $(VENV)/.test-installed
	$(BIN)/pytest tests/unit_tests

integration: $(VENV)/.test-installed
	$(BIN)/pytest tests/integration_tests

test: lint typecheck
	$(BIN)/pytest

bench: $(VENV)/.bench-installed
	$(BIN)/python bench/run_all.py

# A wheel in dist/ to install into another project: pip install "dist/<wheel>[emulator,pdf]"
dist: | $(BIN)/python
	rm -rf dist
	$(BIN)/pip wheel --no-deps --quiet --wheel-dir dist .
	@ls dist/*.whl

clean:
	rm -rf $(VENV) dist .mypy_cache .pytest_cache .ruff_cache
