#!/bin/sh
# Builds attend.wasm from attend.c with Debian's clang + lld (reproducible: no timestamps or paths
# in the output; test/unit/engine/fused-kernel-build.test.ts rebuilds it and compares the bytes).
set -eu
cd "$(dirname "$0")"
clang --target=wasm32 -O3 -msimd128 -nostdlib -ffreestanding -fno-builtin \
  -Wl,--no-entry -Wl,--import-memory -Wl,--export=__heap_base -Wl,--strip-all \
  -o "${1:-attend.wasm}" attend.c
