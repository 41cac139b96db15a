#!/usr/bin/env bash
# Push a locally built image to the registry named by $REGISTRY.
#
#   scripts/push.sh IMAGE:TAG            (what `make push` runs)
#
# It tags IMAGE:TAG as $REGISTRY/<name>:TAG (<name> = IMAGE without any registry
# part, "hello" by default) and pushes it, then does the same for every tag in
# $EXTRA_TAGS (space-separated, e.g. the release version "1.2.0").
#
# Environment:
#   REGISTRY           required. Where to push, without the image name:
#                        europe-west1-docker.pkg.dev/PROJECT/REPO   (Artifact Registry)
#                        gcr.io/PROJECT                            (Container Registry)
#                        ghcr.io/OWNER                             (GitHub Packages)
#                        127.0.0.1:5000                            (a local registry)
#                      Upper case is lowered (registries reject it; GitHub owners may have it).
#   REGISTRY_USERNAME  optional, with REGISTRY_PASSWORD: `docker login` to the registry host
#   REGISTRY_PASSWORD  first (the password is read from stdin, never from argv).
#                        Artifact Registry/GCR: _json_key + the service account's JSON key
#                        GHCR: the GitHub user + a token with write:packages
#                      Without them, the credentials of an earlier `docker login` (or a
#                      credential helper, e.g. `gcloud auth configure-docker`) are used; if
#                      there are none for that host, the script stops and says what to set.
#   EXTRA_TAGS         optional, more tags to push for the same image.
set -euo pipefail

die() {
  printf 'push: %s\n' "$@" >&2
  exit 2
}

[ $# -eq 1 ] || die "usage: $0 IMAGE:TAG" "(make push runs it with the image of the current commit)"
source_ref=$1
case $source_ref in
  *:*) ;;
  *) die "'$source_ref' has no tag: give IMAGE:TAG, e.g. hello:\$(git rev-parse --short=12 HEAD)" ;;
esac
tag=${source_ref##*:}
image=${source_ref%:*}
name=${image##*/}

if [ -z "${REGISTRY:-}" ]; then
  die "REGISTRY is not set: set REGISTRY to the registry path to push to, for example" \
    "  REGISTRY=europe-west1-docker.pkg.dev/MY-PROJECT/hello  (Artifact Registry)" \
    "  REGISTRY=ghcr.io/MY-GITHUB-OWNER                       (GitHub Container Registry)" \
    "and give credentials with REGISTRY_USERNAME and REGISTRY_PASSWORD (or docker login first)." \
    "The image would be pushed as \$REGISTRY/$name:$tag."
fi
registry=${REGISTRY,,}
registry=${registry%/}
host=${registry%%/*}

command -v docker >/dev/null 2>&1 || die "docker is not installed: the push needs the Docker CLI"
docker image inspect "$source_ref" >/dev/null 2>&1 \
  || die "no local image $source_ref: build it first with 'make image'"

if [ -n "${REGISTRY_USERNAME:-}" ] || [ -n "${REGISTRY_PASSWORD:-}" ]; then
  [ -n "${REGISTRY_USERNAME:-}" ] || die "REGISTRY_PASSWORD is set but REGISTRY_USERNAME is not: set both, or neither"
  [ -n "${REGISTRY_PASSWORD:-}" ] || die "REGISTRY_USERNAME is set but REGISTRY_PASSWORD is not: set both, or neither"
  printf '%s' "$REGISTRY_PASSWORD" \
    | docker login --username "$REGISTRY_USERNAME" --password-stdin "$host" >/dev/null \
    || die "docker login to $host as $REGISTRY_USERNAME failed: check REGISTRY_USERNAME and REGISTRY_PASSWORD"
  echo "push: logged in to $host as $REGISTRY_USERNAME" >&2
else
  # No credentials given: accept those of an earlier `docker login` or a credential helper.
  config=${DOCKER_CONFIG:-$HOME/.docker}/config.json
  if ! python3 - "$config" "$host" <<'EOF'; then
import json
import sys

path, host = sys.argv[1], sys.argv[2]
try:
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
except (OSError, ValueError):
    sys.exit(1)
auths = config.get("auths", {})
known = {key.removeprefix("https://").split("/")[0] for key in auths}
ok = host in known or host in config.get("credHelpers", {}) or bool(config.get("credsStore"))
sys.exit(0 if ok else 1)
EOF
    die "no credentials for $host: set REGISTRY_USERNAME and REGISTRY_PASSWORD" \
      "  (Artifact Registry/GCR: REGISTRY_USERNAME=_json_key, REGISTRY_PASSWORD=<service account JSON key>;" \
      "   GHCR: REGISTRY_USERNAME=<github user>, REGISTRY_PASSWORD=<token with write:packages>)" \
      "or run 'docker login $host' (or 'gcloud auth configure-docker $host') first."
  fi
fi

for t in "$tag" ${EXTRA_TAGS:-}; do
  target="$registry/$name:$t"
  docker tag "$source_ref" "$target"
  echo "push: $source_ref -> $target" >&2
  docker push "$target"
done
