# syntax=docker/dockerfile:1
# Two images from one file (docker-compose.yml builds both):
#   web     Python and the service, no language toolchains, runs as the unprivileged user `sandbox`: gunicorn,
#           Celery beat. Static files collected at build time (the editor's bundle from the `frontend` stage).
#   worker  the same service plus the language toolchains the sandbox offers (the Makefile's DEB_PACKAGES) and
#           what the sandbox needs; runs as root, because building a box (namespaces, mounts, cgroups) needs it.
#           Submitted programs never run as root: each runs in its own box as an unprivileged uid.
# Build one: docker build --target web -t sandbox-service-web .   (or --target worker)

# --- base: Debian 12, whose toolchains the project's languages are declared against -------------------------
FROM debian:bookworm-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    SANDBOX_VAR_DIR=/var/lib/sandbox \
    EXECUTOR_IMAGES_DIR=/var/lib/sandbox/images
# Versions are not pinned: Debian stable's archive keeps only the current version of each package (a security
# update replaces it), so an exact pin would break the build at the next update; the release is pinned by the
# tag bookworm-slim. python3 runs the service; libseccomp2 is loaded by pyseccomp when the executor is imported
# (every process imports it); ca-certificates for webhooks and registries over HTTPS.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 libseccomp2 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 sandbox \
    && useradd --system --uid 10001 --gid sandbox --home-dir /app --no-create-home --shell /usr/sbin/nologin sandbox
WORKDIR /app

# --- python-deps: the pinned requirements in a virtualenv, copied into the images -----------------------------
FROM base AS python-deps
# Not pinned, as above.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3-venv \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt requirements-executor.txt ./
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -r requirements.txt

# --- frontend: the editor and dashboard bundles (package-lock.json), and TypeScript's Node.js declarations ----
FROM node:20-bookworm-slim AS frontend
WORKDIR /build
COPY package.json package-lock.json ./
# With the Makefile's TS_NODE_TYPES: Node's type declarations for the typescript language (`tsc --types node`,
# with /usr/lib/node_modules/@types among its type roots), for the worker; a global install keeps its
# dependencies beside it.
RUN npm ci --no-audit --no-fund \
    && npm install --global --prefix /opt/ts-node-types --no-audit --no-fund @types/node@20.17.6
COPY sandbox_service/web/frontend/ sandbox_service/web/frontend/
COPY sandbox_service/ops/frontend/ sandbox_service/ops/frontend/
RUN npm run build

# --- web: gunicorn and beat; no toolchain, not root ----------------------------------------------------------
FROM base AS web
COPY --from=python-deps /opt/venv /opt/venv
COPY . /app
COPY --from=frontend /build/sandbox_service/web/static/web/dist/ /app/sandbox_service/web/static/web/dist/
COPY --from=frontend /build/sandbox_service/ops/static/ops/dist/ /app/sandbox_service/ops/static/ops/dist/
# collectstatic imports the settings; without DJANGO_DEBUG they use their development key, which exists only
# during this command: no secret is baked into the image. The files land in $SANDBOX_VAR_DIR/static, served
# by WhiteNoise; the code and the static files stay root's, read-only to the service. beat/ holds Celery beat's
# schedule (a volume in docker-compose.yml), writable by the service user.
RUN python manage.py collectstatic --no-input -v 0 \
    && install -d -o sandbox -g sandbox -m 0750 /var/lib/sandbox/beat
# The user made in base, by number: an orchestrator can then tell without the image's /etc/passwd that it is
# not root (Kubernetes' runAsNonRoot).
USER 10001:10001
EXPOSE 8000
# Liveness: /healthz answers while the process serves requests. The Host header is one the service accepts
# (Django refuses others with 400) and X-Forwarded-Proto says HTTPS, as the TLS proxy in front of it would.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; h = os.environ.get('DJANGO_ALLOWED_HOSTS', 'localhost').split(',')[0].strip().lstrip('.').replace('*', 'localhost'); u.urlopen(u.Request('http://127.0.0.1:8000/healthz', headers={'Host': h, 'X-Forwarded-Proto': 'https'}), timeout=4)"]
CMD ["gunicorn", "sandbox_service.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2", "--worker-class", "gthread", \
     "--threads", "16", "--timeout", "120", "--worker-tmp-dir", "/dev/shm", "--control-socket", "/tmp/gunicorn.ctl", \
     "--access-logfile", "-"]

# --- toolchains: the languages of executor/languages.py, from Debian 12 -------------------------------------
# A stage of its own, before the service's code, so that a change of the code does not reinstall a gigabyte.
FROM base AS toolchains
# The Makefile's DEB_PACKAGES without redis-server (Redis is a service of its own here), plus mount (the
# worker's entrypoint in docker-compose.yml remounts the cgroup filesystem read-write). Versions not pinned, as
# in base. /usr/share/man/man1 first: openjdk's post-install script links its manual pages there, and the slim
# image has no such directory.
# hadolint ignore=DL3008
RUN mkdir -p /usr/share/man/man1 \
    && apt-get update \
    && apt-get install -y --no-install-recommends \
        gcc g++ openjdk-17-jdk-headless nodejs bash coreutils util-linux libseccomp2 iproute2 procps \
        python3 python3-venv python3-pip debootstrap \
        ruby golang-go rustc php-cli perl lua5.4 node-typescript mono-mcs mono-runtime fp-compiler-3.2.2 \
        fp-units-rtl-3.2.2 gfortran \
        mount \
    && rm -rf /var/lib/apt/lists/*
COPY --from=frontend /opt/ts-node-types/lib/node_modules/@types/node /usr/lib/node_modules/@types/node

# --- worker: the Celery worker that builds the boxes -------------------------------------------------------
FROM toolchains AS worker
COPY --from=web /opt/venv /opt/venv
COPY --from=web /app /app
# The image store (EXECUTOR_IMAGES_DIR, a volume): root's only, like everything of the executor.
RUN install -d -m 0700 /var/lib/sandbox/images
# Root: the sandbox creates namespaces, mounts, cgroups and id maps (docker-compose.yml grants the worker the
# few capabilities this takes). The programs it runs drop to an unprivileged uid inside their box.
# hadolint ignore=DL3002
USER 0:0
# Alive: this worker (Celery's default node name, celery@<container hostname>) answers a ping.
HEALTHCHECK --interval=30s --timeout=20s --start-period=60s --retries=3 \
    CMD ["sh", "-c", "celery -A sandbox_service inspect ping -d \"celery@$HOSTNAME\" --timeout 10 >/dev/null"]
CMD ["celery", "-A", "sandbox_service", "worker", "-Q", "interactive,grading", "--concurrency", "2", \
     "--prefetch-multiplier", "1", "-l", "info"]
