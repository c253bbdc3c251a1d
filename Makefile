# husk: thin wrapper over Meson + Ninja.
#   make          build build/husk
#   make static   build build/husk-static (what we ship and benchmark)
#   make demo     install build deps, build, run a busybox container
#   make check    install test deps, build with -Werror, run every test,
#                 then the same suite under ASan/UBSan, then 60 s of fuzzing
#   make fuzz     the libFuzzer target (clang) on config.json parsing,
#                 resources and seccomp for FUZZ_TIME seconds (600)
#   make check-v2 the cgroup tests in a QEMU guest that is a pure cgroup v2
#                 host, with the static build (tests/vm/cgroup-v2.sh)

MESON ?= meson
FUZZ_TIME ?= 600
PYTEST ?= /usr/bin/python3 -m pytest

.PHONY: all husk static demo check check-v2 unit integration asan fuzz fuzz-check deps test-deps clean

all: husk

build/build.ninja:
	$(MESON) setup build -Dwerror=true

husk: build/build.ninja
	ninja -C build

build-static/build.ninja:
	$(MESON) setup build-static -Dprefer_static=true -Dbuildtype=release -Db_lto=true -Dwerror=true

static: build-static/build.ninja
	ninja -C build-static husk
	cp build-static/husk build/husk-static 2>/dev/null || (mkdir -p build && cp build-static/husk build/husk-static)
	strip build/husk-static

deps:
	sh scripts/deps.sh build

test-deps:
	sh scripts/deps.sh test

demo: deps husk
	sh scripts/demo.sh build/husk

unit: husk
	$(MESON) test -C build --print-errorlogs

integration: husk
	HUSK=$(CURDIR)/build/husk $(PYTEST) -q tests/integration

build-asan/build.ninja:
	$(MESON) setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug -Dwerror=true

asan: build-asan/build.ninja
	ninja -C build-asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		$(MESON) test -C build-asan --print-errorlogs
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		HUSK=$(CURDIR)/build-asan/husk $(PYTEST) -q tests/integration

# libFuzzer under ASan/UBSan; a separate build dir, so the gcc builds are
# untouched.  Crashes go to build-fuzz/fuzz/artifacts/ (tests/fuzz/run.sh).
build-fuzz/build.ninja:
	CC=clang $(MESON) setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true

fuzz: build-fuzz/build.ninja
	ninja -C build-fuzz tests/fuzz/fuzz_config
	sh tests/fuzz/run.sh build-fuzz $(FUZZ_TIME)

FUZZ_PROBE = printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' | \
	clang -fsanitize=fuzzer -x c -o /dev/null - >/dev/null 2>&1

fuzz-check:
	@if $(FUZZ_PROBE); then $(MAKE) fuzz FUZZ_TIME=60; \
	else echo "fuzz: skipped (no clang that links -fsanitize=fuzzer)"; fi

check: test-deps
	$(MAKE) unit
	$(MAKE) integration
	$(MAKE) asan
	$(MAKE) fuzz-check

check-v2: static husk
	HUSK=$(CURDIR)/build/husk-static HUSK_SYSTEMD=$(CURDIR)/build/husk sh tests/vm/cgroup-v2.sh

clean:
	rm -rf build build-static build-asan build-fuzz
