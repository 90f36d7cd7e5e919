# Two commands set everything up: `make run` serves the app, `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint typecheck unit bench clean browser-deps ocr-deps queue-deps

# torch is installed first and pinned: the CPU build of 2.13.0; a plain `torch` would pull CUDA.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/semsearch serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# The browser suite (tests/browser) drives Debian's Chromium. Where CI=true it must run, so a
# missing /usr/bin/chromium is installed here; elsewhere the suite skips and says why.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser-deps:
	@if [ "$$CI" = "true" ] && [ ! -x /usr/bin/chromium ]; then \
		$(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; \
	fi

# The Tesseract tests (tests/test_ocr.py) need Debian's tesseract-ocr: installed where CI=true,
# skipped with the reason elsewhere. The default OCR engine, RapidOCR, comes from PyPI.
ocr-deps:
	@if [ "$$CI" = "true" ] && ! command -v tesseract >/dev/null; then \
		$(SUDO) apt-get update && $(SUDO) apt-get install -y tesseract-ocr tesseract-ocr-eng; \
	fi

# The shared-queue tests (tests/test_workers.py, tests/test_job_queue.py) start Debian's
# redis-server: installed where CI=true, skipped with the reason elsewhere.
queue-deps:
	@if [ "$$CI" = "true" ] && ! command -v redis-server >/dev/null; then \
		$(SUDO) apt-get update && $(SUDO) apt-get install -y redis-server; \
	fi

test: lint typecheck browser-deps ocr-deps queue-deps
	HF_HUB_OFFLINE=1 $(BIN)/pytest

bench: install
	$(BIN)/python bench/ingest_throughput.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
