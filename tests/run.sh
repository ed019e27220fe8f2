#!/bin/sh
# The whole test suite (what `make test` and CI run).
set -e
BUILD=${BUILD:-build}; ASAN_BUILD=${ASAN_BUILD:-build-asan}; JOBS=${JOBS:-2}
sh tests/deps.sh

echo "== build (release) and C tests"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release $CMAKE_FLAGS >/dev/null
cmake --build "$BUILD" -j "$JOBS"
ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS"

echo "== C tests under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B "$ASAN_BUILD" -DCMAKE_BUILD_TYPE=Debug -DCNNC_SANITIZE=ON $CMAKE_FLAGS >/dev/null
cmake --build "$ASAN_BUILD" -j "$JOBS"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$ASAN_BUILD" --output-on-failure -j "$JOBS"

echo "== valgrind memcheck (every C test but the long GEMM sweep, which ASan covers; and the demo)"
VG="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-possibly-lost=no"
for t in test_tensor test_autograd test_module test_module_user test_graph test_alloc_fail test_robustness test_conv test_pool test_resample \
         test_norm test_activation test_loss test_optim test_isa; do
  $VG "$BUILD/$t" >/dev/null
  echo "valgrind: $t clean"
done
$VG "$BUILD/cnnc" demo >/dev/null
for e in resnet unet; do $VG "$BUILD/examples/$e" >/dev/null; done
echo "valgrind: cnnc demo and examples clean"

echo "== conformance against PyTorch"
CNNC_LIBRARY="$(pwd)/$BUILD/libcnnc.so" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/conformance

echo "== conformance with the kernels capped at AVX2 and at the portable C reference"
# The families with per-ISA variants (GEMM, convolution, activation/softmax, norm), the
# ops and modules built on them (cross_entropy on log_softmax) and the example networks; pooling, interpolation,
# padding and elementwise kernels have no ISA-specific code, so the full run above
# already covers them at every cap.
CAPPED="tests/conformance/test_conv_functional.py tests/conformance/test_conv_modules.py
  tests/conformance/test_activation.py tests/conformance/test_norm_batch.py
  tests/conformance/test_norm_group.py tests/conformance/test_norm_instance.py
  tests/conformance/test_norm_layer.py tests/conformance/test_linear_relu.py
  tests/conformance/test_autograd.py tests/conformance/test_modules.py
  tests/conformance/test_examples.py tests/conformance/test_isa.py
  tests/conformance/test_loss_ce.py"
for isa in avx2 scalar; do
  echo "-- CNNC_ISA=$isa"
  CNNC_ISA=$isa CNNC_LIBRARY="$(pwd)/$BUILD/libcnnc.so" /usr/bin/python3 -m pytest -q \
    -p no:cacheprovider $CAPPED
done
