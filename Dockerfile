# The Kameng image: one image, three roles (web, worker, migrate) chosen by the command.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY workflows workflows
COPY activities activities
COPY api api
COPY web web
COPY infra infra
RUN pip install . && useradd --system --uid 10001 kameng
USER kameng
ENV KAMENG_HOST=0.0.0.0 KAMENG_LOG_FORMAT=json
EXPOSE 8000
CMD ["kameng", "web"]
