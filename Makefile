# The README's two set-up commands are `make run` and `make test`; the rest is for developers.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= var/demo

.PHONY: run demo test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

venv: $(BIN)/.installed

## run: the main job on the embedded default (until the services exist: the CLI demo)
run: demo

demo: $(BIN)/.installed
	DEMO_DIR=$(DEMO_DIR) PASSERELLE=$(BIN)/passerelle bash examples/demo.sh

## test: the whole test suite
test: $(BIN)/.installed
	$(BIN)/pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(BIN)/.installed
	$(BIN)/python bench/bench_sdjwt.py
	$(BIN)/python bench/bench_statuslist.py
	$(BIN)/python bench/bench_qr.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
