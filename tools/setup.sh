#!/usr/bin/env bash
# Machine set-up for tasks that need tools outside Deno.
#
#   bash tools/setup.sh test      Jupyter (Debian packages) + Deno's Jupyter kernel, for the notebook test;
#                                 Mesa's Vulkan drivers, for the WebGPU test on the software adapter
#   bash tools/setup.sh figures   headless Chromium (Debian package), for SVG/PNG export
#
# Packages are installed only when missing, and only as root with apt-get (CI runs as root on a
# fresh Debian machine). Without root, missing tools are reported and the step is skipped: the
# tests that need them then skip with a message saying what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

is_root() { [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; }

apt_updated=0
apt_install() {
  if [ "$apt_updated" = "0" ]; then
    apt-get update -qq >/dev/null
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# The deno binary that runs this script's task (a stable, resolved path: the kernel.json written by
# `deno jupyter --install` records the absolute path of the deno that ran it).
deno_bin() {
  local d="${DENO_BIN:-}"
  if [ -z "$d" ]; then d="$(command -v deno || true)"; fi
  if [ -z "$d" ] && [ -x .tools/node_modules/.bin/deno ]; then d=.tools/node_modules/.bin/deno; fi
  if [ -z "$d" ] && command -v npm >/dev/null 2>&1; then
    # A deno at a stable path for the kernel spec (.tools/ is git-ignored).
    echo "setup: deno is not on PATH; installing deno@2.9.6 into .tools/ with npm" >&2
    npm install --silent --prefix .tools deno@2.9.6 >&2
    d=.tools/node_modules/.bin/deno
  fi
  if [ -z "$d" ]; then
    echo "setup: deno is not on PATH (set DENO_BIN)" >&2
    return 1
  fi
  readlink -f "$d"
}

jupyter_ok() {
  /usr/bin/python3 -c "import nbconvert, nbclient, jupyter_client" 2>/dev/null
}

setup_jupyter() {
  if ! jupyter_ok; then
    if is_root; then
      echo "setup: installing Jupyter from Debian's packages..." >&2
      apt_install jupyter-client python3-nbconvert python3-nbclient jupyter-nbconvert \
        jupyter-notebook
    else
      echo "setup: Jupyter is missing and we are not root: notebook tests will be skipped" >&2
      return 0
    fi
  fi
  local deno
  deno="$(deno_bin)"
  # Re-registered every time (it takes milliseconds), so the kernel always runs this deno.
  "$deno" jupyter --install --force >/dev/null
}

setup_chromium() {
  if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    return 0
  fi
  if is_root; then
    echo "setup: installing chromium from Debian's packages..." >&2
    apt_install chromium fonts-liberation fonts-dejavu-core
  else
    echo "setup: chromium is missing and we are not root: SVG/PNG export is unavailable" >&2
  fi
}

# WebGPU's software adapter (Mesa's lavapipe) and the Vulkan loader, for the WebGPU-vs-cpu test.
setup_webgpu() {
  if ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 && ldconfig -p | grep -q libvulkan.so.1; then
    return 0
  fi
  if is_root; then
    echo "setup: installing Mesa's Vulkan drivers (WebGPU's software adapter)..." >&2
    apt_install libvulkan1 mesa-vulkan-drivers
  else
    echo "setup: no Vulkan software adapter and we are not root: the WebGPU test will be skipped" >&2
  fi
}

case "${1:-}" in
  test) setup_jupyter; setup_chromium; setup_webgpu ;;
  figures) setup_chromium ;;
  all) setup_jupyter; setup_chromium ;;
  *)
    echo "usage: bash tools/setup.sh test|figures|all" >&2
    exit 2
    ;;
esac
