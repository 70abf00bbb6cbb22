#!/bin/sh
# Builds attend.wasm, the fused kernel module, from attend.c (attention, encode), matmul.c (the float32
# GEMV) and layers.c (the norms and SiLU between a decode step's products; exp4.h is shared) with
# Debian's clang + lld (reproducible: no timestamps or paths in the output;
# test/unit/engine/fused-decoder.test.ts rebuilds it and compares the bytes).
# Shared memory (atomics) so that a worker thread can run part of a call on the same memory; each
# instance gets its own stack by setting the exported __stack_pointer.
set -eu
cd "$(dirname "$0")"
clang --target=wasm32 -O3 -msimd128 -matomics -mbulk-memory -mmutable-globals -nostdlib -ffreestanding -fno-builtin \
  -Wl,--no-entry -Wl,--import-memory -Wl,--shared-memory -Wl,--max-memory=4294967296 -Wl,-z,stack-size=262144 \
  -Wl,--export=__heap_base -Wl,--export=__stack_pointer -Wl,--strip-all \
  -o "${1:-attend.wasm}" attend.c matmul.c layers.c
