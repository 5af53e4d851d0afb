# Two commands on a fresh machine with only python3:  make serve  /  make test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: serve test lint build browser bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

## serve: build the store when missing or stale, then serve on http://127.0.0.1:8000
serve: $(STAMP)
	$(BIN)/engagements build --if-stale
	$(BIN)/engagements serve --host 127.0.0.1 --port 8000

## build: validate, reason, store and dump (incremental)
build: $(STAMP)
	$(BIN)/engagements build

## browser: Debian's chromium for the page tests (never a browser download)
browser:
	@scripts/install-browser.sh

## test: lint + the whole suite
test: $(STAMP) browser
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

## bench: heavy measurements, never part of make test (see benchmarks/README.md)
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m benchmarks --help

clean:
	rm -rf build .pytest_cache .ruff_cache
