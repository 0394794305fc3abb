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

.PHONY: venv
venv: $(VENV)/.installed ## Create .venv with the package and the test dependencies

# Debian packages the suite needs (PostgreSQL server, Lua for the Argo CD scripts, podman for the image).
APT_PACKAGES := postgresql lua5.1 podman runc mmdebstrap uidmap
$(TOOLS)/.apt:
	@mkdir -p $(TOOLS)
	@if ! dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES) >/dev/null; fi
	@touch $@

# The password checker the Spark Thrift Server uses in tests (a real HiveServer2 CUSTOM authenticator).
$(TOOLS)/sts-auth.jar: devservers/sts_auth/StaticPasswdAuth.java $(VENV)/.installed
	@mkdir -p $(TOOLS)/sts-auth-classes
	J=$$($(PY) -c "import pyspark,os;print(os.path.dirname(pyspark.__file__))")/jars; \
	  javac -nowarn -cp "$$J/*" -d $(TOOLS)/sts-auth-classes $< && jar cf $@ -C $(TOOLS)/sts-auth-classes .

.PHONY: tools
tools: $(VENV)/.installed $(TOOLS)/.apt $(TOOLS)/sts-auth.jar ## Install every tool and server the tests use

# ---------------------------------------------------------------- develop
.PHONY: lint
lint: $(VENV)/.installed ## ruff, mypy --strict on the package, import contracts
	$(VENV)/bin/ruff check operator tests
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

.PHONY: crds
crds: $(VENV)/.installed ## Regenerate crds/ (and the chart's copy) from the models
	$(VENV)/bin/impala-copy crds --output crds

.PHONY: test
test: tools ## Install what the tests need and run lint and the whole suite
	$(MAKE) lint
	$(VENV)/bin/pytest -q -p no:cacheprovider

.PHONY: demo
demo: $(VENV)/.installed $(TOOLS)/sts-auth.jar ## Start a local HiveServer2 with sample data and copy it with the example manifests
	$(PY) scripts/demo.py

.PHONY: bench
bench: tools ## Run the benchmarks and print the figures recorded in docs/benchmarks.md
	$(PY) bench/run.py

.PHONY: clean
clean: ## Remove outputs (keeps .venv, .tools and caches)
	rm -rf demo-output .pytest_cache .mypy_cache .ruff_cache
