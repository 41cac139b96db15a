#!/usr/bin/env bash
# Deploy hello-NAME: a Deployment of 3 replicas + Service + PDB + ServiceAccount,
# all named hello-NAME and labelled app.kubernetes.io/instance=NAME, running IMAGE.
#
#   deploy/deploy.sh NAME IMAGE:TAG          (make deploy NAME=alice runs it with
#                                             hello:<the commit's 12-char sha>)
#
# The student edits no YAML: this renders an overlay (deploy/overlays/$OVERLAY)
# through a kustomization written in a temporary directory, then applies it and
# waits for the rollout. The committed YAML is never modified.
#
# Environment:
#   OVERLAY    gke (default: LoadBalancer on 8000, image from $REGISTRY) or local
#              (NodePort, image from the local engine, imagePullPolicy IfNotPresent)
#   REGISTRY   where the image was pushed (scripts/push.sh): a bare IMAGE such as
#              hello:TAG becomes $REGISTRY/hello:TAG. An IMAGE that already names a
#              registry (contains a "/") is used as it is. gke needs one or the other.
#   NAMESPACE  the namespace (default: the one of kubectl's current context)
#   DRY_RUN=1  print the rendered YAML on stdout; no cluster is contacted
#   TIMEOUT    how long to wait for the rollout (default 300s)
#   KUBECTL    the kubectl to run (default kubectl; needs kustomize >= v5, kubectl >= 1.27)
#
# On clusters older than an API version the manifests use (policy/v1 PDB needs
# 1.21, autoscaling/v2 HPA 1.23), the object is applied with the older API
# (policy/v1beta1, autoscaling/v2beta2: same fields) and a line says so.
# Portable to macOS's bash 3.2 and BSD tools (students' laptops): no ${x,,},
# no GNU-only realpath/sed -i.
set -euo pipefail

die() {
  printf 'deploy: %s\n' "$@" >&2
  exit 2
}

[ $# -eq 2 ] || die "usage: $0 NAME IMAGE:TAG" "e.g. make deploy NAME=alice (deploys hello-alice)"
name=$1
image=$2
overlay=${OVERLAY:-gke}
kubectl=${KUBECTL:-kubectl}
here=$(cd "$(dirname "$0")" && pwd)

# hello-NAME must be a DNS label; pod names add ~17 characters to it.
[[ $name =~ ^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$ ]] ||
  die "NAME='$name' is not usable: 1 to 40 characters among a-z, 0-9 and '-', not starting or ending with '-'" \
    "e.g. make deploy NAME=alice"
[ -d "$here/overlays/$overlay" ] ||
  die "OVERLAY='$overlay' does not exist; choose one of: $(cd "$here/overlays" && echo *)"
case $image in
  *@*) ;;
  *:*) ;;
  *) die "IMAGE='$image' has no tag: give IMAGE:TAG (never :latest)" ;;
esac
tag=${image##*:}
[ "$tag" != latest ] || die "IMAGE='$image': never :latest, tag the image with the commit"

# A bare image name (hello:TAG) lives in $REGISTRY once pushed.
if [[ $image != */* && -n ${REGISTRY:-} ]]; then
  image="$(printf '%s' "$REGISTRY" | tr '[:upper:]' '[:lower:]')/${image}"
fi
if [[ $overlay == gke && $image != */* ]]; then
  if [ "${DRY_RUN:-}" = 1 ]; then
    printf 'deploy: REGISTRY is not set: the rendered image is the local name %s\n' "$image" >&2
  else
    die "OVERLAY=gke needs the image in a registry: set REGISTRY (as for make push)," \
      "e.g. REGISTRY=europe-west1-docker.pkg.dev/PROJECT/REPO make deploy NAME=$name"
  fi
fi

# The absolute path $2 as a path relative to the absolute directory $1: up to /, then down.
relative_from() {
  local up="" part parts
  IFS=/ read -r -a parts <<<"${1#/}"
  for part in "${parts[@]}"; do
    [ -z "$part" ] || up="$up../"
  done
  printf '%s%s\n' "$up" "${2#/}"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

{
  echo "# Rendered by deploy/deploy.sh; temporary, never committed."
  echo "apiVersion: kustomize.config.k8s.io/v1beta1"
  echo "kind: Kustomization"
  echo "resources:"
  # kustomize refuses absolute paths: the overlay, relative to this directory.
  echo "  - $(relative_from "$work" "$here/overlays/$overlay")"
  echo "nameSuffix: -$name"
  [ -z "${NAMESPACE:-}" ] || echo "namespace: $NAMESPACE"
  echo "labels:"
  echo "  # Keeps each student's pods out of the others' selectors."
  echo "  - pairs:"
  echo "      app.kubernetes.io/instance: \"$name\""
  echo "    includeSelectors: true"
  echo "    includeTemplates: true"
  echo "patches:"
  echo "  - target:"
  echo "      kind: Deployment"
  echo "    patch: |-"
  echo "      - op: replace"
  echo "        path: /spec/template/spec/containers/0/image"
  echo "        value: \"$image\""
} >"$work/kustomization.yaml"

"$kubectl" kustomize "$work" >"$work/rendered.yaml"

if [ "${DRY_RUN:-}" = 1 ]; then
  cat "$work/rendered.yaml"
  exit 0
fi

# Older clusters: same objects, the API version they know.
apis=$("$kubectl" api-versions)
if ! grep -qx 'policy/v1' <<<"$apis"; then
  echo "deploy: this cluster has no policy/v1 (Kubernetes < 1.21): the PodDisruptionBudget is applied as policy/v1beta1" >&2
  sed 's#^apiVersion: policy/v1$#apiVersion: policy/v1beta1#' "$work/rendered.yaml" >"$work/adapted.yaml"
  mv "$work/adapted.yaml" "$work/rendered.yaml"
fi
if ! grep -qx 'autoscaling/v2' <<<"$apis" && grep -q '^apiVersion: autoscaling/v2$' "$work/rendered.yaml"; then
  echo "deploy: this cluster has no autoscaling/v2 (Kubernetes < 1.23): the HorizontalPodAutoscaler is applied as autoscaling/v2beta2" >&2
  sed 's#^apiVersion: autoscaling/v2$#apiVersion: autoscaling/v2beta2#' "$work/rendered.yaml" >"$work/adapted.yaml"
  mv "$work/adapted.yaml" "$work/rendered.yaml"
fi

ns_args=()
[ -z "${NAMESPACE:-}" ] || ns_args=(--namespace "$NAMESPACE")
"$kubectl" apply ${ns_args[@]+"${ns_args[@]}"} -f "$work/rendered.yaml"
echo "deploy: waiting for deployment/hello-$name to roll out (image $image)" >&2
"$kubectl" rollout status ${ns_args[@]+"${ns_args[@]}"} "deployment/hello-$name" --timeout "${TIMEOUT:-300s}"
"$kubectl" get ${ns_args[@]+"${ns_args[@]}"} service "hello-$name"
case $overlay in
  gke) echo "deploy: the EXTERNAL-IP above (it may take a minute) serves http://EXTERNAL-IP:8000/" >&2 ;;
  local)
    port=$("$kubectl" get ${ns_args[@]+"${ns_args[@]}"} service "hello-$name" -o 'jsonpath={.spec.ports[0].nodePort}')
    echo "deploy: http://127.0.0.1:$port/ on the local cluster (kind: http://NODE-IP:$port/)" >&2
    ;;
esac
