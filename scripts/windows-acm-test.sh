#!/usr/bin/env bash
# The ACM codecs as Windows DLLs under Wine's own msacm32, compared with Wine's own
# codecs: builds drvg711.dll and drvimaadpcm.dll (x86_64-win7-windows-gnu, std built
# from source with Debian's rustc) in one cargo run, compiles
# scripts/windows/acm-codec-test.c (G.711), acm-ima-test.c and acm-ima-edge-test.c
# (IMA ADPCM) with mingw, registers both DLLs in a throwaway Wine prefix (two
# `msacm.*` values in the Drivers32 registry key, see below) and runs the tests,
# which compare them with Wine's msg711.acm and imaadp32.acm: once with the drivers
# registered when msacm32 starts, once from the cache msacm32 then keeps (whose
# entries must equal the reference codecs' entries).
#
# Usage: scripts/windows-acm-test.sh
# Environment:
#   DRVPROC_WINDOWS_TARGET_DIR  cargo target directory of the Windows build
#                               (default: target/windows; kept between runs as a cache)
#   ACM_TEST_LOG                if set, a path prefix for WINEDEBUG=+msacm,+driver traces of the runs
#                               (ACM_TEST_LOG.g711.registered, ACM_TEST_LOG.ima.cached, ...)
# Exit status: non-zero if the build or any check fails.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=windows/codec-test.sh
. "$ROOT/scripts/windows/codec-test.sh"
TRACE=${ACM_TEST_LOG:-}
TRACE_CHANNELS=+msacm,+driver

setup acm
START=$(now_ms)
build drvproc-g711 drvproc-imaadpcm
# drvg711.dll one directory deeper than drvimaadpcm.dll: see the registration below.
mkdir -p "$WORK/g711"
for dll in g711/drvg711.dll drvimaadpcm.dll; do
    [ -f "$WIN_OUT/${dll#g711/}" ] || die "the build did not produce $WIN_OUT/${dll#g711/}"
    cp "$WIN_OUT/${dll#g711/}" "$WORK/$dll"
done
timing "windows build" "$START"

START=$(now_ms)
for prog in acm-codec-test acm-ima-test acm-ima-edge-test; do
    compile "$prog" msacm32 winmm m
done
timing "test programs" "$START"

START=$(now_ms)
wait_prefix
# Both codecs as `msacm.*` values of the Drivers32 registry key; Wine's own codecs
# stay in system.ini [drivers32]. Wine 8.0's msacm32 enumerates the key with
# RegEnumValueW without resetting the name and data sizes between values, and stops
# at the first value that does not fit the sizes the previous one left. Values come
# in sorted order, so each later value must have a strictly SHORTER name and data no
# larger than the one before. Measured: msacm.drvg711 then msacm.drvima registers
# both when drvima's data is not larger; equal-length names (msacm.drvg711,
# msacm.drvima4) or larger data register only the first. Hence the short alias
# msacm.drvima and drvg711.dll in a subdirectory, which makes its path the longer.
G711_VALUE=$(winpath "$WORK/g711/drvg711.dll")
IMA_VALUE=$(winpath "$WORK/drvimaadpcm.dll")
[ ${#IMA_VALUE} -le ${#G711_VALUE} ] || die "msacm.drvima's data must not be longer than msacm.drvg711's"
wine reg add "$DRIVERS32" /v msacm.drvg711 /d "$G711_VALUE" /f >/dev/null 2>&1 &&
    wine reg add "$DRIVERS32" /v msacm.drvima /d "$IMA_VALUE" /f >/dev/null 2>&1 ||
    die "wine reg add failed"
timing "wine prefix" "$START"

# run_both PHASE WHAT: the test programs, each codec against its Wine counterpart.
run_both() {
    echo "=== acm-codec-test (drvg711 vs msg711), $2"
    run_test "g711.$1" acm-codec-test "drvproc G.711" G.711
    [ "$status" -eq 0 ] || failures+=("acm-codec-test ($2)")
    echo
    echo "=== acm-ima-test (drvimaadpcm vs imaadp32), $2"
    run_test "ima.$1" acm-ima-test "drvproc IMA" "IMA ADPCM"
    [ "$status" -eq 0 ] || failures+=("acm-ima-test ($2)")
    echo
    echo "=== acm-ima-edge-test (drvimaadpcm vs imaadp32), $2"
    run_test "ima-edge.$1" acm-ima-edge-test "drvproc IMA" "IMA ADPCM"
    [ "$status" -eq 0 ] || failures+=("acm-ima-edge-test ($2)")
}

failures=()
run_both registered "the codecs registered by msacm32 at its start"

# At exit msacm32 caches each driver's tags under DriverCache\<alias>, and later
# processes read the cache instead of asking the driver: it must be what msg711's is.
cache_of() {
    local key='HKLM\Software\Microsoft\AudioCompressionManager\DriverCache'
    { wine reg query "$key\\$1" 2>/dev/null || true; } | tr -d '\r' | awk '$2 ~ /^REG_/ {print $1, $2, $3}' | sort
}
# same_cache OURS REFERENCE: the DriverCache entries of two aliases are the same.
same_cache() {
    cache_of "msacm.$1" >"$WORK/cache.$1"
    cache_of "msacm.$2" >"$WORK/cache.$2"
    echo
    cat "$WORK/cache.$1"
    if [ -s "$WORK/cache.$1" ] && diff -u "$WORK/cache.$2" "$WORK/cache.$1"; then
        echo "PASS: msacm32's DriverCache entry of $1 = $2's"
    else
        echo "FAIL: msacm32's DriverCache entry of $1 differs from $2's (- $2, + $1)"
        failures+=("DriverCache of $1")
    fi
}
same_cache drvg711 msg711
same_cache drvima imaadpcm

echo
run_both cached "the codecs known from msacm32's DriverCache"

timing total "$TOTAL_START"
if [ ${#failures[@]} -gt 0 ]; then
    printf 'windows-acm-test: FAILED: %s\n' "${failures[*]}" >&2
    exit 1
fi
echo "windows-acm-test: all passed"
