# The two commands a new user types: `make run` and `make test`.
# Both install what is missing: Debian packages (when run as root), a venv, pip packages.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
APT_RUN := tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd poppler-utils wamerican
APT_TEST := $(APT_RUN) fonts-dejavu-core fonts-liberation chromium
PYTEST_ARGS ?=

.PHONY: run test test-fast lint system-deps system-deps-test bench-env clean model

# The inbox watcher and the web app together (the web app prints its address); Ctrl-C stops both.
run: system-deps $(VENV)/.installed
	@$(BIN)/chartclerk watch & watcher=$$!; \
	trap 'kill $$watcher 2>/dev/null; wait $$watcher' EXIT INT TERM; \
	$(BIN)/chartclerk serve

test: system-deps-test $(VENV)/.installed lint
	$(PY) -m pytest $(PYTEST_ARGS)

# The quick loop while developing: no slow end-to-end tests.
test-fast: $(VENV)/.installed
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@mkdir -p build/typecheck && ln -sfn ../.. build/typecheck/chartclerk
	cd build/typecheck && ../../$(BIN)/mypy --config-file ../../pyproject.toml chartclerk

# The shipped document-type model from scratch (the factory, classify/training/): render and
# OCR the training corpus (forms-style documents from templates/forms/*.yaml and clinical
# notes from templates/*.yaml, about 5 minutes on 2 cores), then fit and calibrate (about a
# minute) into classify/model/.
model: system-deps-test $(VENV)/.installed
	$(PY) -m chartclerk.classify.training --rebuild-corpus --workers 2

system-deps:
	@APT="$(APT_RUN)" sh scripts/system-deps.sh

system-deps-test:
	@APT="$(APT_TEST)" sh scripts/system-deps.sh

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

# OCRmyPDF for bench/throughput.py, in its own venv: a comparison, not a dependency.
bench-env: system-deps-test $(VENV)/.installed
	@test -x bench/.venv-ocrmypdf/bin/ocrmypdf || ($(PYTHON) -m venv bench/.venv-ocrmypdf && \
		bench/.venv-ocrmypdf/bin/pip install --quiet ocrmypdf)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
