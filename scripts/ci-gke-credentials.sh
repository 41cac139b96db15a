#!/usr/bin/env bash
# CircleCI deploy job setup: authenticate gcloud with the service account key in
# $GCLOUD_SERVICE_KEY and point kubectl at $GKE_CLUSTER in $GKE_LOCATION of
# $GOOGLE_PROJECT_ID. The machine image ships gcloud; kubectl and the GKE auth
# plugin are added if missing. Stops with a clear message when a variable is unset.
set -euo pipefail

missing=()
for var in GCLOUD_SERVICE_KEY GOOGLE_PROJECT_ID GKE_CLUSTER GKE_LOCATION; do
  [ -n "${!var:-}" ] || missing+=("$var")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "ci-gke-credentials: set ${missing[*]} in the CircleCI context (or project settings)" >&2
  exit 2
fi
command -v gcloud >/dev/null || { echo "ci-gke-credentials: gcloud is not installed" >&2; exit 2; }

key=$(mktemp)
trap 'rm -f "$key"' EXIT
printf '%s' "$GCLOUD_SERVICE_KEY" >"$key"
gcloud auth activate-service-account --key-file="$key" --quiet
gcloud config set project "$GOOGLE_PROJECT_ID" --quiet

install_component() {  # gcloud component, or the apt package when gcloud came from apt
  gcloud components install "$1" --quiet 2>/dev/null \
    || { sudo apt-get update -qq && sudo apt-get install -y -qq "$2"; }
}
command -v kubectl >/dev/null || install_component kubectl kubectl
command -v gke-gcloud-auth-plugin >/dev/null \
  || install_component gke-gcloud-auth-plugin google-cloud-cli-gke-gcloud-auth-plugin

gcloud container clusters get-credentials "$GKE_CLUSTER" --location "$GKE_LOCATION" --quiet
kubectl version
