# SimpleBPF: set-up, build, tests, demo and benchmarks on Debian 12.
#   make demo    install what is missing, build, run the main job on an example
#   make check   install what is missing, build, run every test
#   make bench   print the benchmark tables
BUILD   ?= build
JOBS    ?= $(shell nproc)
LIT     ?= /usr/lib/llvm-16/build/utils/lit/lit.py
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the project builds and tests with (see docs/development.md).
PACKAGES := cmake ninja-build g++ ccache python3 pkg-config libgtest-dev \
  libmlir-16-dev mlir-16-tools llvm-16-dev llvm-16-tools clang-16 \
  libz3-dev libbpf-dev bpftool libcurl4-openssl-dev libboost-dev \
  libboost-filesystem-dev nlohmann-json3-dev

.PHONY: all deps configure build check check-long unit lit demo bench docs clean

all: build

# Idempotent and quick when everything is present: one dpkg query, and apt
# only for what is missing.
deps:
	@missing=$$(dpkg-query -W -f='$${Package} $${db:Status-Abbrev}\n' $(PACKAGES) 2>/dev/null \
	  | awk '$$2 == "ii" {print $$1}' | sort > /tmp/.sbpf-have.$$$$; \
	  for p in $(PACKAGES); do grep -qx "$$p" /tmp/.sbpf-have.$$$$ || echo $$p; done; rm -f /tmp/.sbpf-have.$$$$); \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing" $$missing; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(BUILD)/build.ninja:
	cmake -G Ninja -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

# The build uses clang-16 (CMakeLists.txt says why); a build directory
# configured earlier with another compiler is configured again.
configure: deps
	@if [ -f $(BUILD)/CMakeCache.txt ] && \
	  ! grep -q '^CMAKE_CXX_COMPILER:FILEPATH=.*clang++-16$$' $(BUILD)/CMakeCache.txt; then \
	  echo "configure: $(BUILD) was configured with another compiler; configuring it for clang-16"; \
	  rm -rf $(BUILD)/CMakeCache.txt $(BUILD)/CMakeFiles $(BUILD)/build.ninja; \
	fi
	@$(MAKE) --no-print-directory $(BUILD)/build.ninja

build: configure
	ninja -C $(BUILD) -j $(JOBS)

# Every test: lit (tools, frontends, dialect) and the GoogleTest unit tests,
# in one lit run; the last line is the summary CI reads.
check: build
	@python3 $(LIT) -q --show-unsupported -j $(JOBS) -o $(BUILD)/test-results.json \
	  $(BUILD)/lit-tests $(BUILD)/unittests; status=$$?; \
	python3 scripts/summarize-lit.py $(BUILD)/test-results.json; exit $$status

# The tests too slow for `make check` (REQUIRES: long-tests; today the
# mutation run of the C objects of kinds/cache and scramble, 21 minutes
# together, and scramble's -O0 object validated, 4-21 minutes).
check-long: build
	@SBPF_LONG_TESTS=1 python3 $(LIT) -q --show-unsupported -j $(JOBS) \
	  $(BUILD)/lit-tests/checker/mutation-c-strings.test \
	  $(BUILD)/lit-tests/bpf/o0-scramble.test

# The main job on an example: netfn, then eBPF C, an object, the kernel
# verifier and the figures.
DEMO_DIR := $(BUILD)/demo
DEMO     := paper_fault
demo: build
	@mkdir -p $(DEMO_DIR)
	@echo "== $(DEMO).appnet as netfn"
	@$(BUILD)/bin/sbpf-opt examples/appnet/$(DEMO).appnet --rpc-schema examples/appnet/rpc.proto
	@echo "== sbpf-opt --appnet-to-bpf -o $(DEMO_DIR)/$(DEMO).bpf.o (readable C: $(DEMO).bpf.c, ABI: $(DEMO).abi.json)"
	@$(BUILD)/bin/sbpf-opt --appnet-to-bpf examples/appnet/$(DEMO).appnet --rpc-schema examples/appnet/rpc.proto \
	  -o $(DEMO_DIR)/$(DEMO).bpf.o --abi-out $(DEMO_DIR)/$(DEMO).abi.json
	@$(BUILD)/bin/sbpf-opt --appnet-to-bpf examples/appnet/$(DEMO).appnet --rpc-schema examples/appnet/rpc.proto \
	  --emit=c -o $(DEMO_DIR)/$(DEMO).bpf.c
	@echo "== kernel verifier"
	@$(BUILD)/bin/sbpf verify $(DEMO_DIR)/$(DEMO).bpf.o
	@echo "== figures"
	@$(BUILD)/bin/sbpf stats $(DEMO_DIR)/$(DEMO).bpf.o --payload-bytes 256

bench: build
	@$(BUILD)/bin/sbpf-frontend-bench examples/appnet examples/appnet/rpc.proto
	@python3 benchmarks/bpf-bench.py $(BUILD) examples/appnet
	@python3 benchmarks/backend-compare.py $(BUILD) examples/appnet
	@python3 benchmarks/check-bench.py $(BUILD) examples/appnet

clean:
	rm -rf $(BUILD)

# Regenerates the dialect and pass references from the TableGen descriptions.
docs: configure
	ninja -C $(BUILD) SBPFNetfnDocGen SBPFPassesIncGen SBPFConversionIncGen
	mkdir -p docs/dialects/netfn docs/passes
	for f in NetfnDialect NetfnOps NetfnTypes; do \
	  cp $(BUILD)/dialects/netfn/include/sbpf/Netfn/$$f.md docs/dialects/netfn/$$f.md; done
	cp $(BUILD)/passes/lib/Transforms/NetfnPasses.md docs/passes/NetfnPasses.md
	cp $(BUILD)/passes/lib/Conversion/ConversionPasses.md docs/passes/ConversionPasses.md
