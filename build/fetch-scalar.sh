#!/usr/bin/env bash
# Fetches the pinned Scalar API reference bundle (@scalar/api-reference, dist/browser/standalone.js) from npm,
# checks the package against its pinned sha512 integrity, and writes the bundle to $3.
# No npm, or no registry: says so and exits 0, so the build still succeeds (the page then says how to get it).
# A package whose integrity differs: exits 1, failing the build.
set -euo pipefail
version=$1 integrity=$2 out=$3

if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  echo "fetch-scalar: npm/node not found; the API reference page will explain how to get the bundle."
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! (cd "$work" && npm pack "@scalar/api-reference@$version" --silent >/dev/null 2>"$work/npm.log"); then
  echo "fetch-scalar: npm pack @scalar/api-reference@$version failed; the API reference page will explain how to get the bundle."
  sed 's/^/fetch-scalar: /' "$work/npm.log" | tail -n 5
  exit 0
fi

tarball=$(ls "$work"/*.tgz)
actual="sha512-$(node -e 'process.stdout.write(require("crypto").createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$tarball")"
if [ "$actual" != "$integrity" ]; then
  echo "fetch-scalar: error: @scalar/api-reference@$version has integrity $actual, expected $integrity" >&2
  exit 1
fi

tar -xzf "$tarball" -C "$work" package/dist/browser/standalone.js
mkdir -p "$(dirname "$out")"
cp "$work/package/dist/browser/standalone.js" "$out.tmp" && mv "$out.tmp" "$out"
echo "fetch-scalar: @scalar/api-reference@$version verified ($integrity), bundle at $out"
