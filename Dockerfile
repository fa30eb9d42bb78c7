# syntax=docker/dockerfile:1
# Gateway's production image: gunicorn with uvicorn workers, as `make serve` runs it. See compose.yaml.

# Redoc's standalone bundle, served at /api/v1/docs/, from the pinned npm package (package-lock.json): the
# same files the Makefile copies into web/static. Node stays in this stage; the service needs none.
FROM node:20-bookworm-slim AS redoc
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error --ignore-scripts \
    && mkdir -p web/static \
    && cp node_modules/redoc/bundles/redoc.standalone.js node_modules/redoc/bundles/redoc.standalone.js.LICENSE.txt web/static/

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH \
    GATEWAY_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATABASE_URL=sqlite:////data/gateway.db \
    PROMETHEUS_MULTIPROC_DIR=/tmp/gateway-metrics
RUN python -m venv /opt/venv
COPY requirements.txt constraints.txt /tmp/
RUN pip install --no-cache-dir -r /tmp/requirements.txt -c /tmp/constraints.txt
# The service runs as a user who owns nothing but /data (the SQLite database when DATABASE_URL is not set).
RUN useradd --system --uid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin gateway \
    && mkdir /data && chown gateway:gateway /data
WORKDIR /app
COPY . .
COPY --from=redoc /build/web/static web/static
USER gateway
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD ["python", "deploy/healthcheck.py"]
# gunicorn finishes in-flight requests on SIGTERM within GATEWAY_GRACEFUL_SECONDS (20): give it longer
# (`docker stop --time 30`, compose's stop_grace_period) than Docker's default of 10 s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["deploy/start.sh"]
