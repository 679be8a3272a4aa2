#!/usr/bin/env bash
# WebGPU on a real GPU, ready to run: a bundle that a bare Linux x86-64 GPU machine can run, and
# the command that runs it there.
#
#   bash tools/gpu_check.sh prepare [DIR]          build the bundle in DIR (default .gpu/, git-ignored)
#   bash tools/gpu_check.sh run [DIR] [-- OPTS]    run it: on the GPU machine, or here
#   bash tools/gpu_check.sh local                  prepare, then run here on the software adapter
#                                                  (Mesa llvmpipe) with small settings
#
# The bundle (about 40 MB, under the device tool's 64 MiB working-tree limit with the repository):
#   deno.xz          Deno's Linux binary from npm (deno@2.9.6), xz-compressed (about 31 MB)
#   gpu_check.js     bench/gpu_check.ts as one file from `deno bundle` (tfjs, the webgpu backend)
#   train_torch.py   the PyTorch comparator (CUDA where available)
#   debs/            the Vulkan/EGL loader packages (Debian 12, amd64) for a machine without them
#
# `run` unpacks the loaders when `libvulkan.so.1` is missing (as root), points the Vulkan loader at
# NVIDIA's driver when that is where the device tool's README says it is, unpacks Deno into /tmp
# and runs the check: WebGPU losses and gradients against the cpu backend (exit code 1 when they
# disagree), then the reference CNN trained on webgpu against PyTorch (CUDA) at batch 128 and 512.
# OPTS go to gpu_check.js (for example `--json "$OUT/gpu_check.json"`, `--batches 128`).
#
# On the device machine (the `run` verb of the device tool), ten minutes at most:
#   command: bash tools/gpu_check.sh run .gpu -- --json "$OUT/gpu_check.json" 2>&1 | tee "$OUT/gpu_check.log"
#   carry:   [".gpu"]
set -euo pipefail
cd "$(dirname "$0")/.."

DENO_VERSION=2.9.6
LOADERS=(libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)

die() {
  echo "gpu_check: $*" >&2
  exit 1
}

# A deno binary of DENO_VERSION for Linux x86-64, from npm.
deno_binary() {
  local d
  d="$(command -v deno || true)"
  if [ -n "$d" ]; then
    d="$(readlink -f "$d")"
    if "$d" --version 2>/dev/null | head -1 | grep -q "deno $DENO_VERSION " &&
      file -b "$d" 2>/dev/null | grep -q "x86-64"; then
      echo "$d"
      return 0
    fi
  fi
  command -v npm >/dev/null 2>&1 || die "no deno $DENO_VERSION on PATH and no npm to fetch it"
  local tmp
  tmp="$(mktemp -d)"
  echo "gpu_check: fetching deno@$DENO_VERSION from npm..." >&2
  npm install --silent --prefix "$tmp" "deno@$DENO_VERSION" >&2
  d="$(readlink -f "$tmp/node_modules/.bin/deno")"
  [ -x "$d" ] || die "npm's deno@$DENO_VERSION has no binary at $d"
  echo "$d"
}

prepare() {
  local dir="$1"
  mkdir -p "$dir/debs"
  local deno
  deno="$(deno_binary)"
  if [ ! -s "$dir/deno.xz" ] || [ "$deno" -nt "$dir/deno.xz" ]; then
    echo "gpu_check: compressing $deno (xz -6)..." >&2
    xz -6 -T0 -c "$deno" >"$dir/deno.xz.tmp"
    mv "$dir/deno.xz.tmp" "$dir/deno.xz"
  fi
  echo "gpu_check: bundling bench/gpu_check.ts..." >&2
  "$deno" bundle --quiet bench/gpu_check.ts -o "$dir/gpu_check.js"
  cp bench/train_torch.py "$dir/train_torch.py"
  if ! ls "$dir"/debs/libvulkan1_*.deb >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || die "apt-get is needed to download the Vulkan loaders"
    echo "gpu_check: downloading the loader packages (amd64): ${LOADERS[*]}..." >&2
    local lists
    lists="$(mktemp -d)"
    mkdir -p "$lists/partial"
    local o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists")
    apt-get "${o[@]}" update -qq >/dev/null
    (cd "$dir/debs" && apt-get "${o[@]}" download "${LOADERS[@]}" >/dev/null)
    rm -rf "$lists"
  fi
  local bytes
  bytes="$(du -sb "$dir" | cut -f1)"
  echo "gpu_check: bundle in $dir: $((bytes / 1024 / 1024)) MiB" >&2
  [ "$bytes" -lt $((56 * 1024 * 1024)) ] || die "the bundle is over 56 MiB: it would not travel"
}

run() {
  local dir="$1"
  shift
  [ -s "$dir/deno.xz" ] && [ -s "$dir/gpu_check.js" ] ||
    die "no bundle in $dir: run 'bash tools/gpu_check.sh prepare $dir' first"
  if ! ldconfig -p 2>/dev/null | grep -q libvulkan.so.1; then
    [ "$(id -u)" = "0" ] || die "libvulkan.so.1 is missing and we are not root to unpack it"
    echo "gpu_check: unpacking the Vulkan loaders..." >&2
    for f in "$dir"/debs/*.deb; do dpkg -x "$f" /; done
    ldconfig
  fi
  local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$icd" ]; then
    export VK_DRIVER_FILES="$icd"
    export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  fi
  export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
  local deno=/tmp/gpu_check_deno
  if command -v xz >/dev/null 2>&1; then
    xz -dc "$dir/deno.xz" >"$deno.tmp"
  else
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
      "$dir/deno.xz" "$deno.tmp"
  fi
  chmod +x "$deno.tmp"
  mv "$deno.tmp" "$deno"
  local python="${PYTHON:-python3}"
  local out="${OUT:-/tmp}"
  "$deno" run --allow-env --allow-read --allow-write="/tmp,$out" --allow-run="$python" \
    "$dir/gpu_check.js" --torch "$dir/train_torch.py" --python "$python" "$@"
}

cmd="${1:-}"
shift || true
case "$cmd" in
  prepare)
    prepare "${1:-.gpu}"
    ;;
  run)
    dir=.gpu
    if [ $# -gt 0 ] && [ "$1" != "--" ]; then
      dir="$1"
      shift
    fi
    [ "${1:-}" = "--" ] && shift
    run "$dir" "$@"
    ;;
  local)
    prepare .gpu
    # Here: the software adapter, PyTorch on the CPU (Debian's python3-torch), small settings.
    PYTHON=/usr/bin/python3 run .gpu --batches 16 --steps 2 --seconds 5 --warmup 1 \
      --check-batch 8 "$@"
    ;;
  *)
    echo "usage: bash tools/gpu_check.sh prepare [DIR] | run [DIR] [-- OPTIONS] | local" >&2
    exit 2
    ;;
esac
