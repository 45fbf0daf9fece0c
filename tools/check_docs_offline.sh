#!/usr/bin/env bash
# Build the docs and look at them as a reader without internet would: a headless Chromium opens the
# built backprop, nets and pipeline pages from disk with networking off and takes a screenshot of each
# (look at them: the formulas must be typeset, not raw LaTeX, and the pictures shown); the built site is
# scanned for anything loaded from another host and for formulas left as LaTeX.
#
#   tools/check_docs_offline.sh [OUT_DIR]     (default: a new temporary folder)
#
# Needs mkdocs with the docs extra (pip install -e '.[docs]') and Chromium
# (Debian: apt-get install chromium). Exit status 1 if the scan finds a remote asset or raw LaTeX,
# or if the browser makes no screenshot; 2 without a browser.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-$(mktemp -d)}
mkdir -p "$out"
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
  echo "no Chromium found (Debian: apt-get install chromium)" >&2
  exit 2
fi

echo "== mkdocs build --strict -> $out/site"
NO_MKDOCS_2_WARNING=1 mkdocs build --strict --quiet --site-dir "$out/site"

echo "== remote assets and raw LaTeX in the built pages"
python tests/test_docs_offline.py "$out/site"

echo "== $("$browser" --version 2>/dev/null), networking off: screenshots"
status=0
for name in backprop nets pipeline; do
  shot="$out/$name.png"
  rm -f "$shot"
  # A proxy that does not exist and no host resolution: any request to the network fails.
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --proxy-server="socks5://127.0.0.1:9" --host-resolver-rules="MAP * ~NOTFOUND" \
    --window-size=1200,2400 --screenshot="$shot" "file://$(realpath "$out/site/$name/index.html")" \
    2>"$out/chromium-$name.log" || true
  if [ -s "$shot" ]; then
    echo "$shot ($(stat -c %s "$shot") bytes)"
  else
    echo "no screenshot of $name; the browser said:" >&2
    tail -5 "$out/chromium-$name.log" >&2
    status=1
  fi
done
echo "open the screenshots: the formulas of backprop.png must be typeset (not raw LaTeX), the pictures of"
echo "nets.png and pipeline.png shown"
exit $status
