#!/usr/bin/env bash
# Re-vendor the web UI's front-end assets from npm at the versions pinned in
# web/package.json, into src/vstage/web/static/vendor/ (committed; the app serves them, so
# pages work offline). Installs into a throw-away directory: no node_modules and no lock
# file in the repo. Run: bash web/vendor.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest="$here/../src/vstage/web/static/vendor"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cp "$here/package.json" "$tmp/"
(cd "$tmp" && npm install --no-save --no-package-lock --ignore-scripts --no-audit --no-fund --loglevel=error)

nm="$tmp/node_modules"
rm -rf "$dest"
mkdir -p "$dest"
cp "$nm/htmx.org/dist/htmx.min.js" "$dest/htmx.min.js"
cp "$nm/@picocss/pico/css/pico.classless.min.css" "$dest/pico.classless.min.css"
cp "$nm/img-comparison-slider/dist/index.js" "$dest/img-comparison-slider.js"
cp "$nm/img-comparison-slider/dist/styles.css" "$dest/img-comparison-slider.css"
for pkg in htmx.org @picocss/pico img-comparison-slider; do
  version=$(node -p "require('$nm/$pkg/package.json').version")
  license=$(node -p "require('$nm/$pkg/package.json').license")
  echo "$pkg $version $license"
done > "$dest/VERSIONS.txt"
for pkg in htmx.org @picocss/pico img-comparison-slider; do
  for f in LICENSE LICENSE.md license; do
    if [ -f "$nm/$pkg/$f" ]; then
      cp "$nm/$pkg/$f" "$dest/LICENSE.$(basename "$pkg")"
      break
    fi
  done
done
cat "$dest/VERSIONS.txt"
