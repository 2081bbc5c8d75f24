# The commands people, the README and CI all use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: serve test lint check-system bench clean

serve: $(VENV)/.installed
	$(BIN)/realtime demo
	$(BIN)/realtime serve

test: $(VENV)/.installed-test check-system lint
	$(BIN)/pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check realtime tests bench
	$(BIN)/ruff format --check realtime tests bench
	$(BIN)/mypy

check-system:
	scripts/system-deps.sh
	scripts/axe-core.sh

bench: $(VENV)/.installed-test
	$(BIN)/python bench/fanout.py

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache node_modules
