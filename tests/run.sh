#!/bin/sh
# The whole test suite (what `make test` and CI run).
set -e
BUILD=${BUILD:-build}; ASAN_BUILD=${ASAN_BUILD:-build-asan}; TSAN_BUILD=${TSAN_BUILD:-build-tsan}
JOBS=${JOBS:-2}
sh tests/deps.sh

echo "== build (release) and C tests"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release $CMAKE_FLAGS >/dev/null
cmake --build "$BUILD" -j "$JOBS"
ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS"
if ctest --test-dir "$BUILD" -N -R '^dist_np' | grep -q 'dist_np2'; then
  echo "dist: the MPI tests (dist_np2, dist_np4) ran above under mpirun"
else
  echo "dist: skipped: CMake did not find MPI (install libopenmpi-dev and openmpi-bin)"
fi

echo "== C tests under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B "$ASAN_BUILD" -DCMAKE_BUILD_TYPE=Debug -DCNNC_SANITIZE=ON $CMAKE_FLAGS >/dev/null
cmake --build "$ASAN_BUILD" -j "$JOBS"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$ASAN_BUILD" --output-on-failure -j "$JOBS"

echo "== the concurrency test under ThreadSanitizer"
cmake -S . -B "$TSAN_BUILD" -DCMAKE_BUILD_TYPE=Debug -DCNNC_TSAN=ON $CMAKE_FLAGS >/dev/null
cmake --build "$TSAN_BUILD" -j "$JOBS" --target test_threads
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 "$TSAN_BUILD/test_threads"

echo "== valgrind memcheck (every C test but the long GEMM sweep, which ASan covers; and the demo)"
VG="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-possibly-lost=no"
# every C test but the GEMM sweep (ASan covers it), the concurrency test (TSan runs
# it), the allocation-failure sweep (run below without its pool sweeps) and the
# 10,000-step memory test (resident sizes mean nothing under valgrind; ASan runs it)
for f in "$BUILD"/test_*; do
  t=$(basename "$f")
  case "$t" in test_gemm|test_threads|test_alloc_fail|test_train_memory) continue ;; esac
  $VG "$BUILD/$t" >/dev/null
  echo "valgrind: $t clean"
done
# its sweeps over real ops at 2 threads (about 1200 runs) are left to ASan
$VG "$BUILD/test_alloc_fail" --no-pool-sweeps >/dev/null
echo "valgrind: test_alloc_fail clean"

# the demo but its last section (a minute of training), then a small `cnnc train`
$VG "$BUILD/cnnc" demo $("$BUILD/cnnc" demo --list | cut -d' ' -f1 | grep -vx train-cnn) >/dev/null
$VG "$BUILD/cnnc" train --arch cnn-small --train-size 32 --test-size 16 --epochs 2 \
  --batch-size 16 --schedule onecycle --optimizer adamw --log "$BUILD/vg_train.csv" \
  --plot "$BUILD/vg_train.svg" >/dev/null
rm -f "$BUILD/vg_train.csv" "$BUILD/vg_train.svg"
for e in resnet unet; do $VG "$BUILD/examples/$e" >/dev/null; done
echo "valgrind: cnnc demo and examples clean"

echo "== libFuzzer targets (tests/fuzz), ${FUZZ_SECONDS:-20} s each from their seed corpora"
if command -v clang >/dev/null 2>&1; then
  FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
  cmake -S . -B "$FUZZ_BUILD" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DCNNC_FUZZ=ON \
    -DCNNC_BUILD_TESTS=OFF >/dev/null
  for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    log=$(mktemp)
    cmake --build "$FUZZ_BUILD" -j "$JOBS" --target "$name" >"$log" 2>&1 || { cat "$log"; exit 1; }
    found=$(mktemp -d) # new inputs go here, never into the committed corpus
    if ! "$FUZZ_BUILD/$name" -max_total_time="${FUZZ_SECONDS:-20}" -rss_limit_mb=2048 \
         -print_final_stats=1 "$found" "tests/fuzz/corpus/${name#fuzz_}" >"$log" 2>&1; then
      tail -n 60 "$log"
      echo "fuzz: $name found a failure (the input is saved as crash-* in $(pwd))"
      exit 1
    fi
    echo "fuzz: $name clean, $(grep -o 'number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') runs"
    rm -rf "$found" "$log"
  done
else
  echo "fuzz: clang not found; skipped (the seed corpora ran as C tests)"
fi

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
  tests/conformance/test_loss_ce.py tests/conformance/test_special_values.py"
for isa in avx2 scalar; do
  echo "-- CNNC_ISA=$isa"
  CNNC_ISA=$isa CNNC_LIBRARY="$(pwd)/$BUILD/libcnnc.so" /usr/bin/python3 -m pytest -q \
    -p no:cacheprovider $CAPPED
done
