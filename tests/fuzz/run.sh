#!/bin/sh
# Run the libFuzzer target for a bounded time (make fuzz, make check).
#   tests/fuzz/run.sh BUILD_DIR SECONDS
# Works on a copy of the seed corpus in BUILD_DIR/fuzz/corpus (it grows
# there from run to run); crashes, leaks and timeouts are written to
# BUILD_DIR/fuzz/artifacts/, never into the source tree.  Exits non-zero
# when the fuzzer found something.
set -eu
build=${1:?usage: $0 BUILD_DIR SECONDS}
secs=${2:-600}
src=$(cd "$(dirname "$0")" && pwd)
fuzzer=$build/tests/fuzz/fuzz_config
work=$build/fuzz
mkdir -p "$work/corpus" "$work/artifacts"
cp "$src"/corpus/* "$work/corpus/"
# UBSan findings must stop the run (and count as crashes), as ASan's do.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
status=0
"$fuzzer" -dict="$src/config.dict" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" \
	>"$work/fuzz.log" 2>&1 || status=$?
grep -E '^(stat::|Done|#[0-9]+.*DONE)' "$work/fuzz.log" || true
if [ "$status" -ne 0 ]; then
	tail -n 60 "$work/fuzz.log"
	echo "fuzz: FAILED (exit $status); log $work/fuzz.log, inputs in $work/artifacts/" >&2
	echo "fuzz: reproduce with $fuzzer $work/artifacts/<file>" >&2
	exit "$status"
fi
echo "fuzz: no crash in ${secs}s ($(find "$work/corpus" -type f | wc -l) corpus entries in $work/corpus)"
