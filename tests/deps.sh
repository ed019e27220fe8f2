#!/bin/sh
# Makes sure the test suite's dependencies are present: PyTorch 1.13, torchvision,
# numpy and pytest for Debian's /usr/bin/python3, valgrind, zlib's headers (gzip data
# files), cJSON's headers (safetensors io), stb's (libstb-dev: `cnnc run --image`), gcc's ThreadSanitizer runtime (libtsan2, for
# the CNNC_TSAN build) and Open MPI (libopenmpi-dev, openmpi-bin: the distributed part
# and its mpirun tests).
# Installs them when root; otherwise stops with the exact command to run.
PKGS="python3-torch python3-torchvision python3-numpy python3-pytest valgrind zlib1g-dev libcjson-dev libstb-dev libtsan2 libopenmpi-dev openmpi-bin"
have_tsan() {
  printf 'int main(void) { return 0; }\n' | ${CC:-cc} -x c -fsanitize=thread -o /dev/null - >/dev/null 2>&1
}
have() {
  /usr/bin/python3 -c 'import torch, torchvision, numpy, pytest' >/dev/null 2>&1 &&
    command -v valgrind >/dev/null 2>&1 && [ -f /usr/include/zlib.h ] &&
    [ -f /usr/include/cjson/cJSON.h ] && [ -f /usr/include/stb/stb_image.h ] && have_tsan &&
    command -v mpirun >/dev/null 2>&1 && command -v mpicc >/dev/null 2>&1
}
# `deps.sh bench`: OpenBLAS for PyTorch's BLAS (make bench compares against it, not
# against the reference BLAS Debian's torch otherwise loads).
if [ "$1" = bench ]; then
  dpkg -s libopenblas0-pthread >/dev/null 2>&1 && exit 0
  if [ "$(id -u)" = 0 ]; then
    echo "deps: installing libopenblas0-pthread"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq libopenblas0-pthread >/dev/null || exit 1
    exit 0
  fi
  echo "deps: missing; run: sudo apt-get install -y libopenblas0-pthread" >&2
  exit 1
fi
have && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "deps: installing $PKGS"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq $PKGS >/dev/null || exit 1
  have || { echo "deps: installed, but /usr/bin/python3 still cannot import torch, torchvision, numpy and pytest (or zlib.h, cjson/cJSON.h, stb/stb_image.h, libtsan or Open MPI is missing)" >&2; exit 1; }
else
  echo "deps: missing; run: sudo apt-get install -y $PKGS" >&2
  exit 1
fi
