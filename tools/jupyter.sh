#!/usr/bin/env bash
# `deno task jupyter`: registers Deno's Jupyter kernel and opens the notebooks folder.
# Installs Jupyter from Debian's packages when it is missing and we are root.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v jupyter >/dev/null 2>&1 || ! /usr/bin/python3 -c "import notebook" 2>/dev/null; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Jupyter from Debian's packages..." >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jupyter-client jupyter-notebook \
      python3-nbconvert python3-nbclient jupyter-nbconvert >/dev/null
  else
    echo "Jupyter is missing: install it (Debian: apt-get install -y jupyter-notebook)" >&2
    exit 1
  fi
fi
deno jupyter --install --force
exec jupyter notebook --notebook-dir=notebooks "$@"
