# The Kameng image: one image, three roles (web, worker, migrate) chosen by the command.
#
#   docker build -t kameng:latest .
#   docker run --env-file .env kameng:latest kameng worker
#
# Two stages: the first builds a virtualenv with the app installed (no build tools or
# sources reach the second); the second runs it as an unprivileged user.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/kameng
WORKDIR /src
# Dependencies first (a layer that survives code changes), then the code.
COPY pyproject.toml README.md ./
RUN mkdir -p workflows activities api web infra \
 && touch workflows/__init__.py activities/__init__.py api/__init__.py web/__init__.py infra/__init__.py \
 && /opt/kameng/bin/pip install . \
 && /opt/kameng/bin/pip uninstall -y kameng
COPY workflows workflows
COPY activities activities
COPY api api
COPY web web
COPY infra infra
RUN /opt/kameng/bin/pip install --no-deps . \
 && /opt/kameng/bin/python -m compileall -q /opt/kameng/lib

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/kameng/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KAMENG_HOST=0.0.0.0 \
    KAMENG_LOG_FORMAT=json \
    KAMENG_VAR_DIR=/var/lib/kameng
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/kameng --create-home --shell /usr/sbin/nologin kameng
COPY --from=build /opt/kameng /opt/kameng
USER 10001:10001
WORKDIR /var/lib/kameng
EXPOSE 8000
CMD ["kameng", "web"]
