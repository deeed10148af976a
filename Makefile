# The README's two set-up commands are `make run` and `make test`; the rest is for developers.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= var/demo

.PHONY: run demo test lint bench docs clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

venv: $(BIN)/.installed

## run: the issuer and the verifier on the embedded default (SQLite, local key store)
run: $(BIN)/.installed
	PASSERELLE=$(BIN)/passerelle bash examples/run.sh

## demo: the end-to-end CLI demo (keys, issue, present, verify, trust list, QR, revocation)
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

## docs: rewrite the README's error table from passerelle/errors.py
docs: $(BIN)/.installed
	$(BIN)/python -c "import re, pathlib; from passerelle.errors import markdown_table as t; p = pathlib.Path('README.md'); p.write_text(re.sub(r'<!-- errors:begin -->.*<!-- errors:end -->', lambda m: '<!-- errors:begin -->\n' + t() + '<!-- errors:end -->', p.read_text(), flags=re.S))"

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
