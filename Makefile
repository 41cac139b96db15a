# hello: every step of the lifecycle is one short verb. `make help` lists them.
# CI calls these same targets, so a developer can run any pipeline step locally.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

IMAGE   ?= hello
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
TAG     ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo dev)
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
NAME    ?=
# Where gunicorn's workers write their metrics; wiped at every start.
METRICS_DIR ?= /tmp/hello-metrics
PYTEST  := uv run --locked pytest

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

## --- the service ---------------------------------------------------------

.PHONY: deps
deps: ## install uv if missing, then the locked dependencies (hash-checked)
	@command -v uv >/dev/null || python3 -m pip install --quiet 'uv>=0.5' 2>/dev/null \
	  || pipx install 'uv>=0.5' \
	  || { echo "uv is missing: install it with 'pipx install uv' (see docs/atelier/00-prerequis.md)" >&2; exit 1; }
	@uv sync --locked --quiet

.PHONY: run
run: deps ## serve with gunicorn on http://127.0.0.1:8000 (metrics on :8080)
	PROMETHEUS_MULTIPROC_DIR=$(METRICS_DIR) HELLO_COMMIT=$(COMMIT) \
	  uv run --locked gunicorn -c python:hello.gunicorn_conf 'hello:create_app()'

.PHONY: dev
dev: deps ## the development server with reload, on http://127.0.0.1:5000
	HELLO_METRICS=off uv run --locked flask --app hello run --debug

## --- checks --------------------------------------------------------------

.PHONY: tools
tools: ## install the system tools the tests drive (nginx, promtool, wrk, hey)
	@scripts/install-tools.sh

.PHONY: lint
lint: deps ## ruff, hadolint and the pipelines' schemas (manifests: tests/test_manifests.py)
	uv run --locked ruff check .
	uv run --locked ruff format --check .
	uv run --locked hadolint Dockerfile bench/baseline/Dockerfile
	uv run --locked check-jsonschema --builtin-schema vendor.circle-ci .circleci/config.yml
	uv run --locked check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	uv run --locked check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml

.PHONY: test
test: deps tools lint ## lint, then unit and integration tests with coverage
	$(PYTEST) --cov --cov-report=term-missing:skip-covered tests

## --- image ---------------------------------------------------------------

.PHONY: image
image: ## build the production image, tagged with the commit
	docker build --build-arg COMMIT=$(COMMIT) --build-arg VERSION=$(VERSION) \
	  -t $(IMAGE):$(TAG) -t $(IMAGE) .

.PHONY: test-image
test-image: deps ## build the image and test real containers
	$(PYTEST) docker/tests

## --- Kubernetes ----------------------------------------------------------

.PHONY: e2e
e2e: deps ## zero-downtime suite on the cluster of $$KUBECONFIG
	$(PYTEST) e2e

.PHONY: deploy
deploy: ## deploy hello-$$NAME with the image of the current commit
	@deploy/deploy.sh "$(NAME)" "$(IMAGE):$(TAG)"

## --- performance ---------------------------------------------------------

.PHONY: bench
bench: deps ## benchmarks: throughput, latency, image size, time to ready
	uv run --locked python -m bench

## --- CI ------------------------------------------------------------------

.PHONY: audit
audit: deps ## audit every locked dependency (all groups) for known vulnerabilities
	@scripts/ci-audit.sh

.PHONY: push
push: ## push $(IMAGE):$(TAG) to $$REGISTRY (needs credentials)
	@scripts/push.sh "$(IMAGE):$(TAG)"

.PHONY: ci
ci: test image test-image audit ## every CI step but the push, as the pipelines run them

.PHONY: clean
clean: ## remove caches and build output
	rm -rf .pytest_cache .ruff_cache .coverage .coverage.* htmlcov dist $(METRICS_DIR)
