# Two commands for a newcomer: `make run` (whole pipeline on sample data) and `make test`.
# Both create .venv and install the project when needed; nothing else is required.
VENV      ?= .venv
PYTHON    ?= python3
CUSTOMERS ?= 5000
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.installed
DATA_DIR  := $(or $(CDP_DATA_DIR),data)

.PHONY: setup run test dev lint clean screenshot

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,bench,spark]'
	@touch $(STAMP)

setup: $(STAMP)

run: setup
	@if [ -z "$$(find '$(DATA_DIR)/landing' -type f 2>/dev/null | head -n 1)" ]; then \
		$(BIN)/cdp generate --customers $(CUSTOMERS); \
	else \
		echo "Landing folder $(DATA_DIR)/landing has files: not generating sample data."; \
	fi
	@# Sample data was "exported" at the instant in truth/as_of.txt: `cdp run` judges freshness then
	@# by itself (orchestration/settings.py, get_quality_settings).
	$(BIN)/cdp run

test: setup
	$(BIN)/ruff check orchestration tests
	$(BIN)/ruff format --check orchestration tests
	$(BIN)/lint-imports
	$(BIN)/pytest

dev: setup
	$(BIN)/cdp dev

# The README's picture of the KPI report: run the pipeline on the 10,000-customer sample first
# (`make run CUSTOMERS=10000`); headless Chromium (Debian package `chromium`), offline.
screenshot: setup
	$(BIN)/cdp screenshot

clean:
	rm -rf '$(DATA_DIR)/warehouse' '$(DATA_DIR)/quarantine' '$(DATA_DIR)/serving' '$(DATA_DIR)/dagster' '$(DATA_DIR)/tmp'
