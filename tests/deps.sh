#!/bin/sh
# Makes sure the conformance suite's dependencies are present: PyTorch 1.13, numpy
# and pytest for Debian's /usr/bin/python3, and valgrind. Installs them when root;
# otherwise stops with the exact command to run.
PKGS="python3-torch python3-numpy python3-pytest valgrind"
have() {
  /usr/bin/python3 -c 'import torch, numpy, pytest' >/dev/null 2>&1 && command -v valgrind >/dev/null 2>&1
}
have && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "deps: installing $PKGS"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq $PKGS >/dev/null || exit 1
  have || { echo "deps: installed, but /usr/bin/python3 still cannot import torch, numpy and pytest" >&2; exit 1; }
else
  echo "deps: missing; run: sudo apt-get install -y $PKGS" >&2
  exit 1
fi
