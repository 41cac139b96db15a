# hello: the production image. nginx listens on 8000 and proxies to gunicorn on a
# unix socket; docker/supervise.py (PID 1) starts them in order and stops them in
# order. Ports, volumes, signals and the drain budget: docker/README.md.
#
#   docker build -t hello .          (make image adds COMMIT and VERSION)
#   docker run -p 8000:8000 hello    then http://127.0.0.1:8000/
#
# Layer order follows how often things change: system packages, then the locked
# dependencies (pyproject.toml + uv.lock), then the app's code, then the labels.
# Changing a test or a doc changes nothing here (.dockerignore leaves them out).

ARG BASE_IMAGE=debian:trixie-slim

# ---------------------------------------------------------------------------
# builder: a virtualenv with the locked dependencies, and the app as a wheel.
FROM ${BASE_IMAGE} AS builder

# Debian's python3 is the interpreter of the final image too (same base), so the
# virtualenv built here runs there unchanged. No compiler: every locked
# dependency has a wheel for CPython 3.13. Package versions are those of the
# Debian release (security updates included), hence no version pins (DL3008).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_SYSTEM_CERTS=1

# The build tools, each pinned with its sha256: uv (exports the lock, installs)
# and hatchling (the project's build backend), in their own environments.
COPY docker/requirements/uv.txt docker/requirements/build.txt /build/requirements/
RUN python3 -m venv /opt/uv \
 && /opt/uv/bin/pip install --no-deps --require-hashes -r /build/requirements/uv.txt \
 && /opt/uv/bin/uv venv --quiet --python /usr/bin/python3 /opt/build \
 && /opt/uv/bin/uv pip install --quiet --python /opt/build/bin/python \
      --no-deps --require-hashes -r /build/requirements/build.txt

# The dependencies: only the `project.dependencies` of the lock (no dev, lint...
# groups), every file checked against its sha256. This layer is rebuilt only
# when pyproject.toml or uv.lock change.
WORKDIR /build
COPY pyproject.toml uv.lock ./
RUN /opt/uv/bin/uv export --quiet --locked --no-default-groups --no-emit-project \
      --format requirements-txt --output-file requirements.txt \
 && /opt/uv/bin/uv venv --quiet --python /usr/bin/python3 /opt/venv \
 && /opt/uv/bin/uv pip install --quiet --python /opt/venv/bin/python \
      --no-deps --require-hashes -r requirements.txt \
 && site=$(/opt/venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))') \
 && echo /opt/hello/lib > "$site/hello-app.pth"

# The app itself, outside the virtualenv (/opt/hello/lib, on its path through
# hello-app.pth), so that a code change copies a few kilobytes into the final
# image, not the whole virtualenv.
# (pyproject names README.md as the long description: an empty one will do, so
# that editing the README rebuilds nothing.)
COPY src/ src/
RUN touch README.md \
 && /opt/uv/bin/uv build --quiet --wheel --no-build-isolation --python /opt/build/bin/python \
      --out-dir /build/dist \
 && /opt/uv/bin/uv pip install --quiet --python /opt/venv/bin/python \
      --no-deps --target /opt/hello/lib /build/dist/hello-*.whl

# ---------------------------------------------------------------------------
# final: Debian's python3 and nginx, the virtualenv, the app, the supervisor.
FROM ${BASE_IMAGE}

# One fixed, unprivileged UID/GID (10001): file ownership and Kubernetes'
# runAsUser agree with it. No setuid/setgid binaries are left to escalate with.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 nginx \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
      /etc/nginx/sites-enabled /etc/nginx/conf.d \
 && groupadd --system --gid 10001 hello \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin hello \
 && find / -xdev -type f -perm /6000 -exec chmod a-s {} +

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/hello/metrics \
    HELLO_BIND=unix:/tmp/hello/gunicorn.sock \
    HELLO_DRAIN_FILE=/tmp/hello/draining \
    HELLO_METRICS_BIND=:8080 \
    HELLO_ACCESS_LOG=off \
    HELLO_DRAIN_SECONDS=40

COPY --from=builder /opt/venv /opt/venv
COPY docker/nginx.conf /etc/hello/nginx.conf
COPY docker/supervise.py /usr/local/lib/hello/supervise.py
COPY --from=builder /opt/hello/lib /opt/hello/lib

# Everything the processes write goes under /tmp (sockets, drain file, metrics,
# nginx's pid and temp files) or /dev/shm (gunicorn's heartbeats): the root
# filesystem can be mounted read-only.
VOLUME ["/tmp"]
WORKDIR /opt/hello
USER 10001:10001
# 8000: nginx, the public port. 8080: /metrics only, for Prometheus.
EXPOSE 8000 8080
STOPSIGNAL SIGTERM
# /healthz through nginx: both servers answer. (/readyz would turn the
# container "unhealthy" while it drains.)
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python3", "-I", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
ENTRYPOINT ["python3", "-I", "/usr/local/lib/hello/supervise.py"]

# Last, so that a new commit rebuilds nothing above.
ARG BASE_IMAGE
ARG COMMIT=unknown
ARG VERSION=unknown
ENV HELLO_COMMIT=${COMMIT}
LABEL org.opencontainers.image.title="hello" \
      org.opencontainers.image.description="Flask service behind nginx and gunicorn, the material of a DevOps seminar" \
      org.opencontainers.image.source="https://github.com/example/hello" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
