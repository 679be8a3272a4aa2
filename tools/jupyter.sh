#!/usr/bin/env bash
# `deno task jupyter`: installs Jupyter from Debian's packages when missing (as root), registers
# Deno's Jupyter kernel with the deno running this task, and opens the notebooks folder.
# Extra arguments go to `jupyter notebook` (e.g. `deno task jupyter --no-browser --port 8890`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh test
if ! /usr/bin/python3 -c "import notebook" 2>/dev/null; then
  echo "Jupyter Notebook is missing: apt-get install -y jupyter-notebook (as root)" >&2
  exit 1
fi
exec /usr/bin/python3 -m notebook --notebook-dir=notebooks "$@"
