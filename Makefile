# Two commands do all set-up:  `make repro` (install + run the pipeline) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# torch is installed before the project so pip never resolves an unpinned (multi-GB CUDA) torch.
# GPU users: install your CUDA build of torch into $(VENV) first; an existing torch is kept.
# --no-compile: no .pyc for the ~200 packages up front (a third of the install time); Python
# compiles the modules a stage actually imports on first use and keeps them, but only if
# PYTHONDONTWRITEBYTECODE is unset: with it (many container images set it) every stage would
# compile torch, transformers and sentence-transformers from source again (a heavy stage's
# imports: 15.3 s instead of 6.4 on 2 cores; benchmarks/import_time.py).
unexport PYTHONDONTWRITEBYTECODE
TORCH_SPEC ?= torch==2.13.0
export PATH := $(CURDIR)/$(BIN):$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install repro serve test lint format bench coldstart clean help
help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@$(BIN)/python -c "import torch" 2>/dev/null && echo "keeping installed torch $$($(BIN)/python -c 'import torch; print(torch.__version__)')" \
		|| $(BIN)/pip install --no-compile "$(TORCH_SPEC)"
	$(BIN)/pip install --no-compile -e .
	@touch $@

# Test and lint tools (pytest, ruff, playwright, …) only where they are used: `make repro` needs
# none of them.
$(VENV)/.dev-installed: $(VENV)/.installed
	$(BIN)/pip install -e ".[dev]"
	@touch $@

# The scale extra (Ray Data, Qdrant client) only for the tests that exercise them: `make repro`
# stays lean.
$(VENV)/.scale-installed: $(VENV)/.dev-installed
	$(BIN)/pip install -e ".[dev,scale]"
	@touch $@

install: $(VENV)/.installed  ## create .venv and install torch + pdfqa

repro: install  ## run the DVC pipeline on data/ (only stages whose inputs changed)
	$(BIN)/dvc repro

serve: install  ## dvc repro (a no-op when up to date), then the app: prod, or the workspace bundle
	$(BIN)/dvc repro
	$(BIN)/pdfqa serve

test: $(VENV)/.scale-installed  ## run the whole test suite (what CI runs; adds the [scale] extra)
	$(BIN)/pytest

lint: $(VENV)/.dev-installed  ## ruff lint + format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev-installed  ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install  ## run the benchmarks in benchmarks/
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/fidelity.py
	$(BIN)/python benchmarks/models.py
	$(BIN)/python benchmarks/bf16_step.py
	bash benchmarks/repro_time.sh

coldstart: install  ## leave-one-document-out quality (reports/coldstart.md; ~25 CPU minutes)
	$(BIN)/dvc repro base_models chunk
	$(BIN)/python benchmarks/coldstart.py

clean:  ## remove the virtualenv (DVC outputs stay; `dvc gc` cleans the cache)
	rm -rf $(VENV)
