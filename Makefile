# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: demo test lint typecheck unit integration notebooks record clean venv browser docs

venv: $(STAMP)

# Every dependency from requirements.lock, each checked against its pinned sha256 hashes; then
# this tree itself, editable, adding nothing (regenerate the lock as its header says).
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/costrouter demo

test: $(STAMP) lint typecheck browser
	$(BIN)/costrouter config check examples/costrouter.yaml
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

# The dashboard's browser test drives Debian's chromium (Playwright cannot download browsers here).
# Installed when missing and possible (root, apt-get); otherwise that test skips and says why.
browser:
	@test -x /usr/bin/chromium || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null \
		|| echo "chromium not installed: the dashboard browser test will skip"; }

# docs/config.md is generated from CostRouterConfig (a test checks it is current).
docs: $(STAMP)
	$(BIN)/costrouter config reference -o docs/config.md

# Re-record cassettes against the project's own local servers (needs loopback only).
record: $(STAMP)
	$(BIN)/pytest tests/integration_tests -q --record-mode=rewrite

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
