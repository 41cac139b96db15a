#!/usr/bin/env bash
# Install the system tools that the tests drive for real, from Debian's packages:
# nginx (the proxy in front of gunicorn), promtool and prometheus (rule tests and
# the query integration test), wrk and hey (load), docker-registry (a real registry
# on loopback for the push test), docker-compose (the compose file's own check). Installs only what is missing.
set -euo pipefail

declare -A package_of=(
  [nginx]=nginx-light [promtool]=prometheus [prometheus]=prometheus [wrk]=wrk [hey]=hey
  [docker-registry]=docker-registry [docker-compose]=docker-compose
)
missing=()
for tool in "${!package_of[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${package_of[$tool]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-tools: need root to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-tools: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the services it installs; the tests start their own on loopback ports.
for service in nginx prometheus docker-registry; do
  "${sudo[@]}" systemctl disable --now "$service" >/dev/null 2>&1 || true
  "${sudo[@]}" service "$service" stop >/dev/null 2>&1 || true
done
