# syntax=docker/dockerfile:1
# eligibility-operator: build the wheel and a virtualenv from the hash-checked lock in one stage, copy
# only the virtualenv into a clean one. `make image` builds it; the image tests (tests/test_image.py)
# build this same file on a Debian bookworm base made with debootstrap (BASE_IMAGE).

# python:3.11-slim-bookworm, pinned by digest (update tag and digest together).
ARG BASE_IMAGE=docker.io/library/python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91

FROM ${BASE_IMAGE} AS build
# Set only where package downloads pass a TLS-intercepting proxy whose CA the base carries.
ARG PIP_CERT
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
# Dependencies and the operator go to two directories, so that the final image has them in two layers:
# an update that changes only the operator's code ships a small layer, the dependencies' layer is reused.
# Build tools get a virtualenv of their own that never reaches the final stage.
COPY requirements-build.lock requirements.lock ./
# kubernetes>=35 also ships an asyncio copy of the whole client (kubernetes/aio, about 68 MB) that the
# operator never imports (Kopf talks to the API with aiohttp itself): it is left out.
RUN python3 -m venv /opt/build \
    && /opt/build/bin/pip install --require-hashes --no-deps -r requirements-build.lock \
    && python3 -m venv --without-pip /opt/eligibility-operator/venv \
    && /opt/build/bin/pip --python /opt/eligibility-operator/venv/bin/python install \
       --require-hashes --no-deps --only-binary :all: -r requirements.lock \
    && rm -rf /opt/eligibility-operator/venv/lib/python3.11/site-packages/kubernetes/aio \
    && echo /opt/eligibility-operator/app > /opt/eligibility-operator/venv/lib/python3.11/site-packages/eligibility-operator-app.pth
COPY pyproject.toml README.md ./
COPY src ./src
# `pip check` sees the operator through the .pth file: its requirements must all come from the lock.
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
    && /opt/build/bin/pip --python /opt/eligibility-operator/venv/bin/python install \
       --no-deps --no-index --target /opt/eligibility-operator/app /wheels/*.whl \
    && /opt/build/bin/pip --python /opt/eligibility-operator/venv/bin/python check \
    && /opt/eligibility-operator/app/bin/eligibility-operator --help > /dev/null \
    && chmod -R a+rX,go-w /opt/eligibility-operator

FROM ${BASE_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="eligibility-operator" \
      org.opencontainers.image.description="Kubernetes operator that makes support eligibility for Stakater products visible and enforceable" \
      org.opencontainers.image.source="https://github.com/stakater/eligibility-operator" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
# Debian already has a group `operator` (gid 37): the user and its group get a name of their own.
RUN groupadd --system --gid 65532 eligibility \
    && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin eligibility
COPY --from=build /opt/eligibility-operator/venv /opt/eligibility-operator/venv
COPY --from=build /opt/eligibility-operator/app /opt/eligibility-operator/app
# Any UID may run it (OpenShift's restricted-v2 assigns an arbitrary UID in group 0): every file is
# readable by all and owned by root, nothing is written outside /tmp (an emptyDir in deploy/), and HOME
# points there for libraries that look for one.
ENV PATH=/opt/eligibility-operator/app/bin:/opt/eligibility-operator/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["eligibility-operator"]
CMD ["run"]
