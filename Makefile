# eligibility-operator: `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CLUSTER_DIR ?= .cluster
KUBECONFIG_LOCAL := $(abspath $(CLUSTER_DIR))/kubeconfig
PYTEST_ARGS ?=
# Development tooling (control plane, cluster, demo): outside src/, never in the wheel or the image.
DEV := $(BIN)/python -m eligibility_operator_dev
# Debian packages the tests and the demo need (kubectl is usually present already; amtool, from
# prometheus-alertmanager, checks the example alert routes; docker-registry, the OCI registry the matrix
# source tests push to).
APT_PACKAGES := etcd-server kubernetes-client prometheus prometheus-alertmanager docker-registry
# For the image tests (tests/image/test_image.py): installed when possible, else those tests are skipped.
IMAGE_APT_PACKAGES := buildah debootstrap
# For the one-node cluster (make node-up, make e2e): the container runtime, CNI plugins, the API server
# relay for pods, iptables/conntrack for kube-proxy, gcc to compile the pause container.
NODE_APT_PACKAGES := containerd runc containernetworking-plugins socat conntrack iptables iproute2 gcc libc6-dev busybox-static
E2E_ARGS ?=

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-17s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: system-deps
system-deps: ## Install the Debian packages the tests need (as root)
	@missing=""; for p in $(APT_PACKAGES); do \
	  if [ "$$p" = kubernetes-client ] && command -v kubectl >/dev/null; then continue; fi; \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "apt-get install$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@missing=""; for p in $(IMAGE_APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "apt-get install$$missing (for the image tests)"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; } \
	    || echo "note: could not install$$missing; the image tests will be skipped" >&2; \
	fi
	@missing=""; for p in $(NODE_APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "apt-get install$$missing (for make node-up / make e2e)"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; } \
	    || echo "note: could not install$$missing; make node-up and make e2e will stop and name them" >&2; \
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
	$(DEV) control-plane

.PHONY: test
test: control-plane ## Run all tests against a real local control plane
	$(BIN)/pytest $(PYTEST_ARGS)

LOWEST_VENV ?= .venv-lowest
.PHONY: test-lowest
test-lowest: ## Fast tier with every dependency at the lowest version pyproject.toml allows (keeps lower bounds true)
	$(PYTHON) -m venv $(LOWEST_VENV)
	$(PYTHON) scripts/lowest_constraints.py > $(LOWEST_VENV)/constraints.txt
	$(LOWEST_VENV)/bin/pip install -q --upgrade pip
	$(LOWEST_VENV)/bin/pip install -q -c $(LOWEST_VENV)/constraints.txt -e '.[test]'
	$(LOWEST_VENV)/bin/pip check
	$(LOWEST_VENV)/bin/pytest tests/unit -q -p no:cacheprovider

.PHONY: bench
bench: control-plane ## Benchmark at 1k/5k/10k/20k workloads and 100 engagements; writes benchmarks/results/ (BENCH_ARGS=--in-pod: on the real node, operator as pods next to the host process, 10k)
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

.PHONY: bench-check
bench-check: install ## Time `check` on 10 MB and 100 MB of manifests (one file, many files); prints CPU and wall seconds
	$(BIN)/python -m benchmarks.check_size --mb 10 100

.PHONY: unit
unit: install ## Run the fast tier: pure and in-memory runtime tests, no control plane (< 1 minute)
	$(BIN)/pytest tests/unit -q $(PYTEST_ARGS)

.PHONY: lint
lint: install ## ruff + mypy + import-linter (declared layers, .importlinter)
	$(BIN)/ruff check src tests scripts benchmarks eligibility_operator_dev
	$(BIN)/ruff format --check src tests scripts benchmarks eligibility_operator_dev
	$(BIN)/mypy
	$(BIN)/mypy --strict scripts/generate_monitoring.py scripts/monitoring scripts/generate_docs.py scripts/generate_chart.py scripts/generate_bundle.py
	$(BIN)/lint-imports

.PHONY: fmt
fmt: install ## Format the code with ruff
	$(BIN)/ruff check --fix src tests eligibility_operator_dev
	$(BIN)/ruff format src tests eligibility_operator_dev

.PHONY: crds
crds: install ## Regenerate crds/ and deploy/ copies from the API models
	$(BIN)/eligibility-operator crds --output-dir crds
	$(BIN)/eligibility-operator default-matrix > deploy/base/default-matrix.yaml

.PHONY: generate
generate: crds ## Regenerate everything generated: crds/, deploy/ copies, alert rules, Grafana dashboards, docs/reference/, the chart's copies, bundle/
	$(BIN)/python scripts/generate_monitoring.py
	$(BIN)/python scripts/generate_docs.py --output-dir docs/reference
	$(BIN)/python scripts/generate_chart.py
	$(BIN)/python scripts/generate_bundle.py --image $(BUNDLE_IMAGE)

.PHONY: docs-reference
docs-reference: install ## Regenerate docs/reference/ (CRD fields, command line, metrics) from the code
	$(BIN)/python scripts/generate_docs.py --output-dir docs/reference

.PHONY: docs
docs: install ## Build the docs site into site/ with mkdocs --strict (material theme)
	$(BIN)/pip install -q -e '.[docs]'
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

.PHONY: cluster-up
cluster-up: control-plane ## Start the local control plane, apply CRDs and the default matrix
	$(DEV) cluster up --dir $(CLUSTER_DIR)

.PHONY: cluster-down
cluster-down: ## Stop the local control plane
	@if [ -x $(BIN)/python ]; then $(DEV) cluster down --dir $(CLUSTER_DIR); fi

.PHONY: clean
clean: cluster-down ## Remove the virtualenv and caches (keeps the built control plane)
	rm -rf $(VENV) $(LOWEST_VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist src/*.egg-info

.PHONY: node-up
node-up: install ## Start a real one-node cluster (containerd, kubelet, kube-proxy) with the operator image loaded (root)
	$(DEV) node up

.PHONY: node-down
node-down: ## Stop the one-node cluster and remove everything it made (processes, mounts, bridge, iptables, cgroups)
	@if [ -x $(BIN)/python ]; then $(DEV) node down; fi

.PHONY: e2e
e2e: install ## node-up, the e2e tests (operator as pods, deploy/overlays/local then the chart), then node-down even when a test fails
	$(DEV) node up
	@rc=0; EO_E2E_KUBECONFIG=$$($(BIN)/python -c 'from eligibility_operator_dev.node import kubeconfig_path; print(kubeconfig_path())') \
	  EO_E2E_IMAGE=localhost/eligibility-operator:dev EO_E2E_NODE=1 \
	  $(BIN)/pytest tests/e2e -m "e2e and not after_node_down" --timeout=600 -p no:cacheprovider -q $(E2E_ARGS) || rc=$$?; \
	$(DEV) node down || rc=1; \
	EO_E2E_AFTER_DOWN=1 $(BIN)/pytest tests/e2e/test_node_gone.py -p no:cacheprovider -q || rc=1; exit $$rc

.PHONY: e2e-existing
e2e-existing: install ## The e2e tests against the current KUBECONFIG (IMAGE=<pullable reference>); only its own namespaces
	@test -n "$$KUBECONFIG" || { echo "error: set KUBECONFIG to the cluster to test" >&2; exit 1; }
	EO_E2E_KUBECONFIG=$$KUBECONFIG EO_E2E_IMAGE=$(IMAGE) $(BIN)/pytest tests/e2e -m "e2e and not after_node_down" --timeout=600 -p no:cacheprovider -q $(E2E_ARGS)

.PHONY: demo
demo: control-plane ## Run the operator on the local control plane with samples (DEMO_ONCE=1: exit after printing)
	$(DEV) demo --dir $(CLUSTER_DIR)

# ---------------------------------------------------------------- lock, image, release
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGE ?= eligibility-operator:dev
# Empty: the Dockerfile's digest-pinned python:3.11-slim-bookworm.
BASE_IMAGE ?=
# docker, podman or buildah; empty: the first of them that works here.
CONTAINER_ENGINE ?=
RELEASE_IMAGE ?= ghcr.io/stakater/eligibility-operator:$(VERSION)
RELEASE_DIR ?= dist/release
UV_COMPILE = $(BIN)/uv pip compile --generate-hashes --python-version 3.11 --python-platform linux \
	--no-emit-index-url --quiet $(LOCK_ARGS)

.PHONY: lock
lock: install ## Re-lock requirements.lock and requirements-build.lock from pyproject.toml (LOCK_ARGS=--upgrade)
	$(BIN)/pip install -q 'uv>=0.5'
	$(UV_COMPILE) pyproject.toml -o requirements.lock
	$(BIN)/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
	  | $(UV_COMPILE) - -o requirements-build.lock

.PHONY: install-locked
install-locked: | $(BIN)/activate ## Install the runtime dependencies exactly as locked (hash-checked), then the package
	$(BIN)/pip install -q --require-hashes --no-deps -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	$(BIN)/pip check

.PHONY: image
image: ## Build the image $(IMAGE) with docker, podman or buildah (CONTAINER_ENGINE=..., BASE_IMAGE=...)
	@engine="$(CONTAINER_ENGINE)"; \
	if [ -z "$$engine" ]; then \
	  for candidate in docker podman buildah; do \
	    command -v $$candidate >/dev/null 2>&1 || continue; \
	    if [ $$candidate = buildah ] || $$candidate info >/dev/null 2>&1; then engine=$$candidate; break; fi; \
	    echo "note: $$candidate is installed but '$$candidate info' failed (no engine running?); trying the next" >&2; \
	  done; \
	fi; \
	if [ -z "$$engine" ]; then \
	  echo "error: no container engine found to build the image: install Docker Engine (and start it), podman," \
	    "or buildah (Debian: apt-get install buildah), or set CONTAINER_ENGINE" >&2; exit 1; \
	fi; \
	command -v $$engine >/dev/null 2>&1 || { echo "error: CONTAINER_ENGINE=$$engine is not installed" >&2; exit 1; }; \
	case $$engine in buildah) build="buildah bud --isolation $${BUILDAH_ISOLATION:-chroot}";; *) build="$$engine build";; esac; \
	set -x; $$build --build-arg VERSION=$(VERSION) --build-arg REVISION=$$(git rev-parse HEAD 2>/dev/null || echo unknown) $(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE)) -t $(IMAGE) .

.PHONY: release-manifests
release-manifests: install ## Render deploy/base and the overlays with RELEASE_IMAGE into RELEASE_DIR, one file each
	$(BIN)/python scripts/release_manifests.py $(RELEASE_IMAGE) $(RELEASE_DIR)

# ---------------------------------------------------------------- kind (needs Docker)
KIND_CLUSTER ?= eligibility-operator

define need
	@command -v $(1) >/dev/null 2>&1 || { echo "error: '$(1)' is not installed; $(2)" >&2; exit 1; }
endef
define need_docker_engine
	$(call need,docker,install Docker Engine (https://docs.docker.com/engine/install/))
	@docker info >/dev/null 2>&1 || { echo "error: no Docker engine is reachable ('docker info' failed); start Docker" >&2; exit 1; }
endef

.PHONY: kind-up
kind-up: ## Create a kind cluster $(KIND_CLUSTER) (needs Docker and kind)
	$(call need_docker_engine)
	$(call need,kind,install kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation))
	kind get clusters 2>/dev/null | grep -qx $(KIND_CLUSTER) || kind create cluster --name $(KIND_CLUSTER) --wait 120s

.PHONY: kind-load
kind-load: image ## Load the image into the kind cluster
	$(call need,kind,install kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation))
	kind load docker-image $(IMAGE) --name $(KIND_CLUSTER)

.PHONY: deploy
deploy: ## Apply deploy/overlays/kind to the current kubectl context (the kind cluster after kind-up)
	$(call need,kubectl,install kubectl (Debian package kubernetes-client))
	kubectl apply -k deploy/overlays/kind
	kubectl -n eligibility-operator rollout status deployment/eligibility-operator --timeout=180s

.PHONY: e2e-kind
e2e-kind: kind-up kind-load deploy ## Deploy into kind and wait for the sample engagement to become Ready
	kubectl apply -f deploy/samples/namespaces.yaml
	kubectl apply -f deploy/samples/workloads.yaml -f deploy/samples/engagement.yaml
	kubectl wait --for=condition=Ready supportengagement/acme-platform -n platform --timeout=120s
	kubectl get se -A -o wide

# ---------------------------------------------------------------- chart and OLM bundle (install channels)
CHART_DIR := charts/eligibility-operator
# The image the bundle's CSV runs; for a release, by digest (ghcr.io/stakater/eligibility-operator@sha256:...).
BUNDLE_IMAGE ?= ghcr.io/stakater/eligibility-operator:$(VERSION)

.PHONY: chart
chart: install ## Regenerate the chart's RBAC templates, crds/ and files/ from deploy/base, crds/, deploy/prometheus, deploy/grafana
	$(BIN)/python scripts/generate_chart.py

.PHONY: bundle
bundle: chart ## Regenerate the OLM bundle (bundle/) from the chart (BUNDLE_IMAGE=...@sha256:... for a release)
	$(BIN)/python scripts/generate_bundle.py --image $(BUNDLE_IMAGE)

.PHONY: chart-package
chart-package: chart ## Package the chart into dist/charts/ with Helm's own engine (helm-python-sdk)
	mkdir -p dist/charts
	$(BIN)/python -c 'import helm_python, sys; print(helm_python.package(sys.argv[1], destination=sys.argv[2]))' $(CHART_DIR) dist/charts
