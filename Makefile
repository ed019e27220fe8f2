# Thin wrapper over CMake. `make` builds a release into build/.
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
PREFIX     ?= /usr/local
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
ifeq ($(CI),true)
CMAKE_FLAGS += -DCNNC_WERROR=ON
endif

.PHONY: all demo test bench install clean asan tsan

all:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

demo: all
	./$(BUILD)/cnnc demo

asan:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCNNC_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

tsan:
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCNNC_TSAN=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build $(TSAN_BUILD) -j $(JOBS)

# Everything: dependencies, release C tests, ASan+UBSan C tests, the concurrency test
# under ThreadSanitizer, valgrind subset, the PyTorch conformance suite.
test:
	BUILD=$(BUILD) ASAN_BUILD=$(ASAN_BUILD) TSAN_BUILD=$(TSAN_BUILD) JOBS=$(JOBS) CMAKE_FLAGS="$(CMAKE_FLAGS)" sh tests/run.sh

# PyTorch's matmul and convolutions run on the system BLAS: the bench compares against
# OpenBLAS (libopenblas0-pthread), never the reference BLAS.
bench: all
	sh tests/deps.sh
	sh tests/deps.sh bench
	CNNC_LIBRARY=$(CURDIR)/$(BUILD)/libcnnc.so /usr/bin/python3 bench/bench.py

install:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
