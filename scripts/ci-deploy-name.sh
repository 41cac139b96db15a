#!/usr/bin/env bash
# Print the <name> of hello-<name> for a branch: lower case, every run of other
# characters than [a-z0-9] turned into one "-", no "-" at either end, at most 40
# characters (hello-<name> must be a DNS label of at most 63).
#   scripts/ci-deploy-name.sh "Feature/Alice_Web"   ->  feature-alice-web
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BRANCH" >&2; exit 2; }
name=$(printf '%s' "${1,,}" | tr -cs 'a-z0-9' '-')
name=${name#-}
name=${name:0:40}
name=${name%-}
[ -n "$name" ] || { echo "ci-deploy-name: no usable name in '$1': set DEPLOY_NAME" >&2; exit 2; }
printf '%s\n' "$name"
