# eligibility-operator: `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CLUSTER_DIR ?= .cluster
KUBECONFIG_LOCAL := $(abspath $(CLUSTER_DIR))/kubeconfig
PYTEST_ARGS ?=
# Debian packages the tests and the demo need (kubectl is usually present already).
APT_PACKAGES := etcd-server kubernetes-client prometheus

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: system-deps
system-deps: ## Install the Debian packages the tests need (as root)
	@missing=""; for p in $(APT_PACKAGES); do \
	  if [ "$$p" = kubernetes-client ] && command -v kubectl >/dev/null; then continue; fi; \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "apt-get install$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

.PHONY: install
install: system-deps $(VENV)/.installed ## Create the virtualenv and install the package with test extras

.PHONY: control-plane
control-plane: install ## Fetch etcd and build kube-apiserver into the cache (first run: a few minutes)
	$(BIN)/python -c "from eligibility_operator.controlplane import ensure_binaries; print(*ensure_binaries())"

.PHONY: test
test: control-plane ## Run all tests against a real local control plane
	$(BIN)/pytest $(PYTEST_ARGS)

.PHONY: lint
lint: install ## ruff + mypy
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

.PHONY: fmt
fmt: install ## Format the code with ruff
	$(BIN)/ruff check --fix src tests
	$(BIN)/ruff format src tests

.PHONY: crds
crds: install ## Regenerate crds/ and deploy/ copies from the API models
	$(BIN)/eligibility-operator crds --output-dir crds
	$(BIN)/eligibility-operator default-matrix > deploy/base/default-matrix.yaml

.PHONY: generate
generate: crds ## Regenerate everything generated: crds/, deploy/ copies, PrometheusRule, Grafana dashboard
	$(BIN)/python scripts/generate_monitoring.py

.PHONY: cluster-up
cluster-up: control-plane ## Start the local control plane, apply CRDs and the default matrix
	$(BIN)/eligibility-operator cluster up --dir $(CLUSTER_DIR)

.PHONY: cluster-down
cluster-down: ## Stop the local control plane
	@if [ -x $(BIN)/eligibility-operator ]; then $(BIN)/eligibility-operator cluster down --dir $(CLUSTER_DIR); fi

.PHONY: clean
clean: cluster-down ## Remove the virtualenv and caches (keeps the built control plane)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist src/*.egg-info

.PHONY: demo
demo: control-plane ## Run the operator on the local control plane with samples (DEMO_ONCE=1: exit after printing)
	$(BIN)/eligibility-operator demo --dir $(CLUSTER_DIR)
