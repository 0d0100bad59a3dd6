#!/usr/bin/env bash
# Runs one libFuzzer target for a fixed time on a scratch copy of its checked-in corpus.
# usage: fuzz/run.sh <fuzzer binary> <seed corpus dir> <seconds>
# Fails on any crash, leak, timeout or sanitizer report; prints the executions it made.
# Keeps the scratch corpus and crash files when FUZZ_KEEP=1 or on failure.
set -uo pipefail
bin=$1 seeds=$2 secs=${3:-5}
work=$(mktemp -d "${TMPDIR:-/tmp}/ztpd-fuzz.XXXXXX")
mkdir -p "$work/corpus"
[ -d "$seeds" ] || { echo "no seed corpus at $seeds" >&2; exit 1; }
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/" "$work/corpus" "$seeds" >"$work/log" 2>&1
rc=$?
grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$work/log" | tr '\n' ' '
echo
if [ $rc -ne 0 ]; then
    tail -60 "$work/log"
    echo "fuzzer failed (rc=$rc); artifacts in $work" >&2
    exit 1
fi
[ "${FUZZ_KEEP:-0}" = 1 ] && echo "scratch corpus kept: $work" || rm -rf "$work"
exit 0
