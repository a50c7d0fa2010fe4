# Convenience entry points; the build itself is CMake (see README.md).
BUILD ?= build/dev
JOBS ?= $(shell nproc)

PREFIX ?= /usr/local

.PHONY: deps build check demo release install uninstall asan tsan valgrind fuzz-smoke fuzz-long clean

deps:
	./scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Debug -DBPT_WERROR=ON
	cmake --build $(BUILD) -j$(JOBS)

# Build and run every test (the README's test command).
check: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

# Build and run the demo (the README's demo command).
demo: build
	./scripts/demo.sh $(BUILD)/bpt

# Optimised build with -Werror (gcc warns at -O2 where Debug does not), and its tests.
release: deps
	cmake --preset release
	cmake --build build/release -j$(JOBS)
	ctest --test-dir build/release --output-on-failure -j$(JOBS)

# Install an optimised (Release) build under $(PREFIX) (DESTDIR is honoured): bin/bpt,
# lib/libblueprint-tee.{so,a}, include/blueprint-tee/, lib/pkgconfig/blueprint-tee.pc,
# share/man/man1/bpt.1, share/bash-completion/completions/bpt. Its own build directory, without
# tests or benches; `make build` stays the Debug build for development.
install: deps
	cmake -S . -B build/install -DCMAKE_BUILD_TYPE=Release -DBPT_BUILD_TESTS=OFF \
	  -DBPT_BUILD_BENCH=OFF -DCMAKE_INSTALL_PREFIX=$(PREFIX)
	cmake --build build/install -j$(JOBS)
	cmake --install build/install

# Remove what `make install` installed (its manifest).
uninstall:
	@test -f build/install/install_manifest.txt || { echo "nothing installed by make install"; exit 1; }
	xargs -d '\n' rm -f -- < build/install/install_manifest.txt

asan: deps
	cmake --preset asan
	cmake --build build/asan -j$(JOBS)
	ctest --test-dir build/asan --output-on-failure -j$(JOBS)

# ThreadSanitizer over the concurrent parts: key-exchange service, HTTP server, client, caches
# (the LRU map and the certificate, chain and collateral caches threads share), one runtime
# shared by threads, the runner, the chain signer (results in flight from one key).
tsan: deps
	cmake --preset tsan
	cmake --build build/tsan -j$(JOBS)
	ctest --test-dir build/tsan --output-on-failure -j$(JOBS) -R 'exchange|providers|attestation/context|attestation/pki|core/lru|middleware|runner|runtime/threads|runtime/aws_nitro|runtime/azure_cvm|runtime/gcp_confidential_space|chain/'

valgrind: deps
	cmake --preset valgrind
	cmake --build build/valgrind -j$(JOBS)
	ctest --test-dir build/valgrind --output-on-failure -j$(JOBS) -L unit

fuzz-smoke: deps
	./scripts/fuzz-smoke.sh

# Grow the checked-in corpus: each target FUZZ_SECONDS (default 300) from its seeds, then only
# the inputs with new coverage are merged into fuzz/corpus/<parser>/ (commit them).
# FUZZ_TARGETS="evidence jwt" limits the run; see docs/fuzzing.md.
fuzz-long: deps
	./scripts/fuzz-long.sh

clean:
	rm -rf build
