# The two entry points of README.md: `make demo` (the main job) and `make test` (the full suite).
# Both install what is missing (scripts/setup.sh), configure and build incrementally.
BUILD ?= build
JOBS  ?= $(shell nproc)
# Seconds per fuzz target in `make test` (scripts/fuzz.sh; a longer run: scripts/fuzz.sh 3600).
FUZZ_SECONDS ?= 45
# ccache hits across clones (CI clones afresh): paths relative to the checkout, and the build
# directory left out of the hash of debug-info compilations.
export CCACHE_BASEDIR   := $(CURDIR)
export CCACHE_NOHASHDIR := 1

# The programs scripts/demo.sh runs (and so all that `make demo` builds): the training app and
# the CLI, with their libraries. Every test, fuzzer helper and benchmark is left to `make test`.
DEMO_TARGETS := co3-train co3

.PHONY: all setup configure build demo test bench gpu-check gpu-sim clean

all: build

setup:
	@bash scripts/setup.sh > .venv-path.tmp && mv .venv-path.tmp .venv-path

configure: setup
	@VENV=$$(cat .venv-path); \
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_PREFIX_PATH="$$($$VENV/bin/python -c 'import torch;print(torch.utils.cmake_prefix_path)')" \
	  -DCO3_WITH_CUDA=ON -DCO3_PYTHON="$$VENV/bin/python" > $(BUILD).configure.log 2>&1 || { cat $(BUILD).configure.log; exit 1; }

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

demo: configure
	@cmake --build $(BUILD) -j $(JOBS) --target $(DEMO_TARGETS)
	@bash scripts/demo.sh $(BUILD)

# The sanitizer and fuzz stages (CPU only, their own build directories) run first and stop at
# a failure; the main suite runs last, so that the closing line, "N passed, M failed" (skipped
# tests counted apart), is ctest's result.
test: build
	@echo "==== make test 1/3: CPU suite under ASan+UBSan and TSan (scripts/sanitize.sh) ===="
	@bash scripts/sanitize.sh
	@echo "==== make test 2/3: fuzzing, $(FUZZ_SECONDS) s per target (scripts/fuzz.sh) ===="
	@bash scripts/fuzz.sh $(FUZZ_SECONDS)
	@echo "==== make test 3/3: test suite (ctest in $(BUILD)/) ===="
	@rm -f $(BUILD)/ctest.xml; rc=0; \
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) --output-junit ctest.xml || rc=$$?; \
	awk -F'"' '$$1 ~ /tests=$$/ {t = $$2} $$1 ~ /failures=$$/ {f = $$2} $$1 ~ /skipped=$$/ {s = $$2} \
	  /<testcase/ {exit} END {print "ctest: " t " tests, " s " skipped"; print t - f - s " passed, " f " failed"}' \
	  $(BUILD)/ctest.xml; \
	exit $$rc

bench: build
	@$(BUILD)/bench/co3_bench_cpu

# On a GPU machine (no network, no setup): the torch-free build, GPU tests, compute-sanitizer,
# co3_bench_gpu, ncu and co3_bench_aop in one run, logs and JSON in build-gpu-check/out.
gpu-check:
	@bash scripts/gpu_check.sh build-gpu-check/out

# Without a GPU: the device tests on a simulated GPU (GPGPU-Sim from ../shared/gpusim, built once),
# small sizes, about 20 minutes on 2 cores; logs in build-gpusim/out. Not part of `make test`.
gpu-sim:
	@bash scripts/gpu_sim_check.sh build-gpusim/out

clean:
	rm -rf $(BUILD) $(BUILD).configure.log .venv-path build-asan build-tsan build-fuzz \
	  build-gpu-check build-gpu-check-torch build-wheel build-gpusim
