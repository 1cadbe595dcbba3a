# The eldercare services (ingest today; detectors, alerts and the API as they land).
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY core core
COPY ingest ingest
COPY storage storage
COPY detectors detectors
COPY alerts alerts
COPY simulators simulators
COPY eldercare eldercare
COPY deploy deploy
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 --no-create-home eldercare
USER eldercare
ENTRYPOINT ["eldercare"]
CMD ["ingest"]
