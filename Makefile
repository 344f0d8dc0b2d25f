# lilalo — the thin top level. CMake does the building; this file names what people run.
#   make run            install what is missing, build, start the whole system with a demo
#   make check          install what is missing, build, run every test (plain and ASan/UBSan)
#   make stop           stop what `make run` started
#   make bench-ingest | bench-rec | bench-render    the benchmarks (run on purpose, slow)
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)

.PHONY: all deps build build-asan check check-fast check-asan run stop bench-ingest bench-rec bench-render clean

all: build

deps:
	@scripts/install-deps

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

build-asan:
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DL3_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)

# The plain build runs every test; the sanitizer build runs them all again.
check: deps build build-asan
	@scripts/run-tests $(BUILD) $(ASAN_BUILD)

check-fast: build
	@scripts/run-tests $(BUILD)

run: deps build
	@scripts/demo start $(BUILD)

stop:
	@scripts/demo stop $(BUILD)

bench-ingest: build
	@bench/ingest.sh $(BUILD)

bench-rec: build
	@scripts/install-deps --bench
	@bench/rec.sh $(BUILD)/bin

bench-render: build
	@scripts/install-deps --bench
	@bench/render.sh $(BUILD)/bin

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
