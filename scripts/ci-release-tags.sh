#!/usr/bin/env bash
# Print the extra image tags of a release build (GitHub Actions' GITHUB_REF_TYPE
# and GITHUB_REF_NAME): for a git tag vX.Y.Z, "X.Y.Z" after checking that it is
# the version in pyproject.toml; for a branch, nothing (the sha tag is enough).
set -euo pipefail

ref_type=${GITHUB_REF_TYPE:-branch}
ref_name=${GITHUB_REF_NAME:-}
[ "$ref_type" = tag ] || exit 0

version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$(dirname "$0")/../pyproject.toml")
if [ "$ref_name" != "v$version" ]; then
  echo "ci-release-tags: tag '$ref_name' does not match pyproject.toml's version $version (expected v$version)" >&2
  exit 1
fi
printf '%s\n' "$version"
