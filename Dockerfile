# impala-copy: one image for the operator Deployment and for the copy Job pods.
#
#   operator pod:  impala-copy operator [--namespace NS ...]
#   Job pod:       impala-copy engine            (CopyPlan JSON in env IMPALA_COPY_PLAN)
#
# BASE is any Debian-like image with python3 (3.11+) and the venv module: python:3.12-slim by
# default; `make image` can use a locally built Debian base instead (see the Makefile).
ARG BASE=python:3.12-slim

# ---------------------------------------------------------------- requirements: the pinned runtime
# dependencies of pyproject.toml and its kerberos extra (never the test extras), as a file whose
# content alone decides whether the dependency layer below is rebuilt.
FROM ${BASE} AS requirements
COPY pyproject.toml /src/
RUN python3 -c "import tomllib; p = tomllib.load(open('/src/pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['kerberos']))" \
      > /requirements.txt

# ---------------------------------------------------------------- build: a virtualenv with the package
FROM ${BASE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# The Kerberos binding (`kerberos`, no wheels) builds here against MIT krb5: a C compiler, krb5-config
# and the headers, and Python's headers when the base has none. None of it reaches the runtime stage.
# Versions come with the base's Debian release. POSIX sh only: podman's default (OCI) image format
# has no SHELL instruction.
# hadolint ignore=DL3008,SC2086
RUN headers=""; \
    python3 -c "import sysconfig, os, sys; sys.exit(not os.path.exists(sysconfig.get_paths()['include'] + '/Python.h'))" \
      || headers="python3-dev"; \
    apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev libkrb5-dev $headers \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
RUN python3 -m venv /opt/impala-copy \
 && /opt/impala-copy/bin/pip install --no-cache-dir pip==26.3
COPY --from=requirements /requirements.txt /tmp/requirements.txt
RUN /opt/impala-copy/bin/pip install --no-cache-dir --requirement /tmp/requirements.txt
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN /opt/impala-copy/bin/pip install --no-cache-dir --no-deps . \
 && /opt/impala-copy/bin/impala-copy --version \
 && /opt/impala-copy/bin/pip uninstall --quiet --yes pip setuptools
# What the runtime never needs: test suites, C headers and Cython sources of the dependencies.
RUN find /opt/impala-copy/lib -depth -type d -name tests -exec rm -rf {} + \
 && find /opt/impala-copy/lib \( -name '*.pxd' -o -name '*.pyx' -o -name '*.pxi' \) -delete \
 && rm -rf /opt/impala-copy/lib/python3*/site-packages/pyarrow/include /opt/impala-copy/lib/python3*/site-packages/pyarrow/src

# ---------------------------------------------------------------- runtime: the venv on a clean base
FROM ${BASE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="impala-copy" \
      org.opencontainers.image.description="Copy data out of Impala on Kubernetes: operator and copy engine" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
# MIT krb5's GSSAPI library, which the Kerberos binding links (Kerberos logins to Impala).
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends libgssapi-krb5-2 \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
COPY --from=build /opt/impala-copy /opt/impala-copy
# A numeric non-root user (runAsNonRoot can check it); HOME and temp files under /tmp, which the
# pods mount as an emptyDir so the root filesystem can stay read-only.
ENV PATH=/opt/impala-copy/bin:$PATH \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
WORKDIR /tmp
ENTRYPOINT ["impala-copy"]
CMD ["--help"]
