# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: demo test lint typecheck unit integration notebooks bench record clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev,proxy]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/costrouter demo

test: $(STAMP) lint typecheck
	$(BIN)/pytest tests/unit_tests tests/integration_tests -q
	$(BIN)/pytest --nbmake notebooks -q

unit: $(STAMP)
	$(BIN)/pytest tests/unit_tests -q

integration: $(STAMP)
	$(BIN)/pytest tests/integration_tests -q

notebooks: $(STAMP)
	$(BIN)/pytest --nbmake notebooks -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy langchain_costrouter litellm_hooks

# Re-record cassettes against the project's own local servers (needs loopback only).
record: $(STAMP)
	$(BIN)/pytest tests/integration_tests -q --record-mode=rewrite

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
