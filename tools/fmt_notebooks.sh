#!/usr/bin/env bash
# Formats the notebooks (or with --check, fails if one is not formatted).
#
# Deno 2.9.6's `deno fmt --check` reports .ipynb files as "not formatted" even when formatting
# leaves them byte-identical (seen on fresh clones; the incremental cache hides it afterwards), so
# notebooks are excluded from `deno fmt` in deno.json and checked here by formatting each one
# through stdin and comparing the bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for nb in notebooks/*.ipynb; do
  formatted="$(mktemp)"
  deno fmt --ext ipynb - <"$nb" >"$formatted"
  if ! cmp -s "$nb" "$formatted"; then
    if [ "${1:-}" = "--check" ]; then
      echo "not formatted: $nb (run: bash tools/fmt_notebooks.sh)" >&2
      status=1
    else
      cat "$formatted" >"$nb"
      echo "formatted $nb"
    fi
  fi
  rm -f "$formatted"
done
exit $status
