# lilalo — the thin top level. CMake does the building; this file names what people run.
#   make run            install what is missing, build, start the whole system with a demo
#   make check          install what is missing, build, run every test (plain and ASan/UBSan)
#   make stop           stop what `make run` started
#   make package        Debian packages into build/packages/ (packaging/CMakeLists.txt)
#   make bench-ingest | bench-rec | bench-render | bench-scale    the benchmarks (run on purpose, slow)
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)

.PHONY: all deps build build-asan check check-fast check-asan run stop bench-ingest bench-rec bench-render bench-scale package clean

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

# The packages get their own build, configured for /usr (the programs' default paths).
PKG_BUILD ?= build-pkg
package:
	@cmake -S . -B $(PKG_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
		-DL3_TESTS=OFF -DL3_PACKAGING=ON >/dev/null
	@cmake --build $(PKG_BUILD) -j$(JOBS)
	@rm -rf $(BUILD)/packages && mkdir -p $(BUILD)/packages
	@cd $(PKG_BUILD) && cpack -G DEB -B $(abspath $(BUILD))/packages >/dev/null
	@rm -rf $(BUILD)/packages/_CPack_Packages
	@ls -1 $(BUILD)/packages/*.deb

bench-ingest: build
	@bench/ingest.sh $(BUILD)

bench-rec: build
	@scripts/install-deps --bench
	@bench/rec.sh $(BUILD)/bin

bench-render: build
	@scripts/install-deps --bench
	@bench/render.sh $(BUILD)/bin

# Issue 10's figures at 10,000,000 commands (about 8.5 GB in /var/tmp/l3-bench-scale,
# kept for the next run; BENCH_COMMANDS / BENCH_DIR to change).
bench-scale: build
	@scripts/install-deps --bench
	@bench/scale.sh $(BUILD)/bin

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(PKG_BUILD)
