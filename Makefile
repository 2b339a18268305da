# The front door: `make demo` and `make test` do all the set-up on a fresh Debian 12 machine.
BUILD ?= build
JOBS ?= 2
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=Release

.PHONY: all deps build test test-asan fuzz kill-test demo bench clean

all: build

deps:
	bash scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

# The report test renders the HTML report in a headless browser: Debian's chromium.
test: build
	bash scripts/install-deps.sh chromium
	cd $(BUILD) && CAI_REQUIRE_BROWSER=1 ctest --output-on-failure -j$(JOBS)

# The whole suite under AddressSanitizer and UBSan, in its own build folder (slow: a full
# rebuild, then every test).
ASAN_BUILD ?= build-asan
test-asan: deps
	JOBS=$(JOBS) bash scripts/test-asan.sh $(ASAN_BUILD)

# libFuzzer on every parser (clang), FUZZ_SECONDS each (default 60); see scripts/fuzz.sh.
FUZZ_BUILD ?= build-fuzz
fuzz: deps
	JOBS=$(JOBS) bash scripts/fuzz.sh $(FUZZ_BUILD)

# SIGKILLs `cai loop` at KILLS random moments of a small two-round run, resuming it each time,
# and compares the finished run with an uninterrupted one file by file (scripts/kill-anywhere.sh).
KILLS ?= 20
kill-test: build
	bash scripts/kill-anywhere.sh --cai $(BUILD)/cai --kills $(KILLS)

demo: build
	bash scripts/demo.sh $(BUILD)

bench: build
	bash scripts/bench.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
