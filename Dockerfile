# syntax=docker/dockerfile:1
# The eldercare services. The image installs the project's wheel, the one list of what
# ships (the one pip uses), with every dependency at its pin in constraints.txt; nothing
# of the source tree reaches the final image. CI installs that same wheel the same way
# into a clean environment and runs it (.ci/wheel-smoke.sh).
#
# The base image is pinned by digest (python:3.11.11-slim-bookworm, the multi-arch index);
# bump tag and digest together, deliberately: README, "Pinning the images".
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm@sha256:081075da77b2b55c23c088251026fb69a7b2bf92471e491ff5fd75c192fd38e5

FROM ${PYTHON_IMAGE} AS wheel
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
# The build context is what .dockerignore leaves: pyproject.toml, README.md, the packages.
COPY . .
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    ELDERCARE_API_HOST=0.0.0.0
COPY --from=wheel /wheels /tmp/wheels
COPY constraints.txt /tmp/constraints.txt
RUN pip install --constraint /tmp/constraints.txt /tmp/wheels/eldercare-*.whl \
    && rm -rf /tmp/wheels /tmp/constraints.txt \
    && groupadd --system --gid 10001 eldercare \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/eldercare --create-home eldercare
USER 10001:10001
WORKDIR /var/lib/eldercare
EXPOSE 8080
# /readyz of this container's API (database and broker answer). Services that serve no
# API (a one-shot `db migrate`, `simulate`) turn it off in docker-compose.yml.
HEALTHCHECK --interval=15s --timeout=6s --start-period=60s --retries=3 \
    CMD ["eldercare", "healthcheck"]
ENTRYPOINT ["eldercare"]
CMD ["run"]
