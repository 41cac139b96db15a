#!/usr/bin/env bash
# The e2e suite on kind (https://kind.sigs.k8s.io), for machines without the
# project's local cluster. Needs docker, kind, kubectl (>= 1.27, kustomize v5)
# and hey on PATH.
#
#   e2e/kind.sh up      create the cluster (if missing), build hello:<commit>,
#                       load it into the node, deploy hello-dev (local overlay)
#   e2e/kind.sh test    run the zero-downtime suite (make e2e) on that cluster
#   e2e/kind.sh down    delete the cluster
#   e2e/kind.sh         up, then test
#
# KIND_CLUSTER names the cluster (default hello-e2e). NodePorts of kind answer
# on the node container's IP (docker network "kind"), which the suite finds
# through the Node's InternalIP; the images it builds are loaded with
# `kind load docker-image` (HELLO_E2E_LOAD below).
set -euo pipefail

cluster=${KIND_CLUSTER:-hello-e2e}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

for tool in docker kind kubectl; do
  command -v "$tool" >/dev/null || { echo "kind.sh: $tool is not on PATH" >&2; exit 2; }
done

up() {
  if ! kind get clusters | grep -qx "$cluster"; then
    kind create cluster --name "$cluster" --wait 120s
  fi
  kubectl config use-context "kind-$cluster"
  local tag
  tag=$(git rev-parse --short=12 HEAD)
  make image
  kind load docker-image "hello:$tag" --name "$cluster"
  OVERLAY=local deploy/deploy.sh dev "hello:$tag"
  local port ip
  port=$(kubectl get service hello-dev -o jsonpath='{.spec.ports[0].nodePort}')
  ip=$(kubectl get nodes -o jsonpath='{.items[0].status.addresses[?(@.type=="InternalIP")].address}')
  echo "kind.sh: hello-dev answers on http://$ip:$port/"
}

test_suite() {
  kubectl config use-context "kind-$cluster" >/dev/null
  HELLO_E2E_LOAD="kind load docker-image --name $cluster" make e2e
}

case ${1:-all} in
  up) up ;;
  test) test_suite ;;
  down) kind delete cluster --name "$cluster" ;;
  all) up && test_suite ;;
  *) echo "usage: $0 [up|test|down]" >&2; exit 2 ;;
esac
