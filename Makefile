# The two entry points of README.md: `make demo` (the main job) and `make test` (the full suite).
# Both install what is missing (scripts/setup.sh), configure and build incrementally.
BUILD ?= build
JOBS  ?= $(shell nproc)
# ccache hits across clones (CI clones afresh): paths relative to the checkout, and the build
# directory left out of the hash of debug-info compilations.
export CCACHE_BASEDIR   := $(CURDIR)
export CCACHE_NOHASHDIR := 1

.PHONY: all setup build demo test bench clean

all: build

setup:
	@bash scripts/setup.sh > .venv-path.tmp && mv .venv-path.tmp .venv-path

build: setup
	@VENV=$$(cat .venv-path); \
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_PREFIX_PATH="$$($$VENV/bin/python -c 'import torch;print(torch.utils.cmake_prefix_path)')" \
	  -DCO3_PYTHON="$$VENV/bin/python" > $(BUILD).configure.log 2>&1 || { cat $(BUILD).configure.log; exit 1; }
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@bash scripts/demo.sh $(BUILD)

test: build
	@ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

bench: build
	@$(BUILD)/bench/co3_bench_cpu

clean:
	rm -rf $(BUILD) $(BUILD).configure.log .venv-path
