# The commands people, the README and CI all use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: serve test lint check-system bench mutants clean

serve: $(VENV)/.installed
	$(BIN)/realtime demo
	$(BIN)/realtime serve

# The suite on WORKERS processes (pytest-xdist, whole files per worker: a file's servers and
# fixtures stay together), then the Schemathesis file on its own: under xdist, its
# `schema.parametrize()` tests collapse to one item that fuzzes one operation, not every one.
WORKERS ?= 2
test: $(VENV)/.installed-test check-system lint
	$(BIN)/pytest -n $(WORKERS) --dist loadfile --ignore=tests/test_schemathesis.py
	$(BIN)/pytest tests/test_schemathesis.py

lint: $(VENV)/.installed-test
	$(BIN)/ruff check realtime tests bench
	$(BIN)/ruff format --check realtime tests bench
	$(BIN)/mypy

check-system:
	scripts/system-deps.sh
	scripts/axe-core.sh

bench: $(VENV)/.installed-test
	$(BIN)/python bench/fanout.py

# Mutation testing of the live path (docs/testing.md): not part of `make test` or CI. Which files
# and tests are in [tool.mutmut] (pyproject.toml); of the store's core, only its write path.
STORE_WRITES := put_article add_comment edit_comment delete_comment hold_comment approve reject \
	set_closed
MUTANTS ?= 'realtime.live.hub.*' 'realtime.live.reorder.*' 'realtime.web.ws.*' 'realtime.web.resume.*' \
	'realtime.store.group_commit.*' 'realtime.store.sqlite.x_connect__mutmut_*' \
	$(foreach name,begin commit rollback,'realtime.store.sqlite.xǁSqliteBackendǁ$(name)__mutmut_*') \
	$(foreach name,$(STORE_WRITES),'realtime.store.core.xǁStoreǁ$(name)__mutmut_*')

mutants: $(VENV)/.installed-mutants
	CI=true $(BIN)/mutmut run --max-children 2 $(MUTANTS)  # CI=true: Hypothesis on its fixed seed
	$(BIN)/mutmut results

$(VENV)/.installed-mutants: $(VENV)/.installed-test
	$(BIN)/pip install --quiet -e ".[test,mutants]"
	touch $@

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

clean:
	rm -rf $(VENV) data mutants .pytest_cache .mypy_cache .ruff_cache node_modules
