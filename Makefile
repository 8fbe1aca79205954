# LeadLoop — `make run` serves the CRM with demo data; `make test` runs the whole suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CATALOGUES := $(patsubst %.po,%.mo,$(wildcard src/leadloop/locale/*/LC_MESSAGES/django.po))
PORT ?= 8000
export LEADLOOP_HTTPS ?= 0

.PHONY: run test lint format bench install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) $(CATALOGUES)

%.mo: %.po $(STAMP)
	$(BIN)/pybabel compile --use-fuzzy -i $< -o $@

run: install
	$(BIN)/leadloop migrate --noinput -v0
	$(BIN)/leadloop demo
	$(BIN)/leadloop serve --port $(PORT) --with-worker

# Tests keep their own var/ (task queue, SQLite files): what they queue never reaches the
# worker of `make run`.
test: install
	LEADLOOP_VAR_DIR=$(CURDIR)/var/test $(BIN)/pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/intake.py

clean:
	rm -rf $(VENV) var
