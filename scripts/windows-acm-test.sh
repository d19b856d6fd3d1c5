#!/usr/bin/env bash
# The ACM codecs as Windows DLLs under Wine's own msacm32, compared with Wine's own
# codecs: builds drvg711.dll (x86_64-win7-windows-gnu, std built from source with
# Debian's rustc), compiles scripts/windows/acm-codec-test.c with mingw, registers
# the DLL in a throwaway Wine prefix (one `msacm.*` value in the Drivers32 registry
# key) and runs the test, which compares it with Wine's msg711.acm: once with the
# driver registered when msacm32 starts, once from the cache msacm32 then keeps.
#
# Usage: scripts/windows-acm-test.sh
# Environment:
#   DRVPROC_WINDOWS_TARGET_DIR  cargo target directory of the Windows build
#                               (default: target/windows; kept between runs as a cache)
#   ACM_TEST_LOG                if set, a path prefix for WINEDEBUG=+msacm,+driver traces of the runs
#                               (ACM_TEST_LOG.registered, ACM_TEST_LOG.cached)
# Exit status: non-zero if the build or any check fails.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TRIPLE=x86_64-win7-windows-gnu
WIN_TARGET_DIR=${DRVPROC_WINDOWS_TARGET_DIR:-$ROOT/target/windows}
WIN_OUT=$WIN_TARGET_DIR/$TRIPLE/debug
DRIVERS32='HKLM\Software\Microsoft\Windows NT\CurrentVersion\Drivers32'

WORK=$(mktemp -d "${TMPDIR:-/tmp}/drvproc-acm.XXXXXX")
export WINEPREFIX=$WORK/wine-prefix WINEARCH=win64 WINEDEBUG=-all WINEDLLOVERRIDES='mscoree,mshtml='
unset DISPLAY WAYLAND_DISPLAY

cleanup() {
    if command -v wineserver >/dev/null 2>&1 && [ -d "$WINEPREFIX" ]; then
        wineserver -k >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { echo $(($(date +%s%N) / 1000000)); }
TOTAL_START=$(now_ms)
timing() {
    local ms=$(($(now_ms) - $2))
    printf 'timing: %-30s %4d.%01d s\n' "$1" $((ms / 1000)) $((ms % 1000 / 100))
}
die() {
    echo "FATAL: $*" >&2
    exit 1
}
# Linux paths as Wine shows them (drive Z: is the Unix root).
winpath() {
    local p=${1//\//\\}
    printf 'Z:%s' "$p"
}

for tool in wine wineboot wineserver x86_64-w64-mingw32-gcc /usr/bin/rustc /usr/bin/cargo; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (see scripts/windows-test.sh for the packages)"
done

# The prefix is made in the background while the DLL builds.
START=$(now_ms)
(wineboot --init >"$WORK/wineboot.log" 2>&1 && wineserver -w) &
WINEBOOT_PID=$!

# The DLL with the same profile and std as scripts/windows-test.sh (debug, unwinding),
# so both share one target directory; only this package and its dependencies.
CARGO_CONFIG=$WORK/cargo-windows.toml
printf '[target.%s]\nlinker = "x86_64-w64-mingw32-gcc"\n' "$TRIPLE" >"$CARGO_CONFIG"
(cd "$ROOT" && nice env PATH="/usr/bin:$PATH" RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
    CARGO_TARGET_DIR="$WIN_TARGET_DIR" /usr/bin/cargo --config "$CARGO_CONFIG" build -q -Zbuild-std \
    --target "$TRIPLE" -p drvproc-g711) || die "the Windows build of drvproc-g711 failed"
[ -f "$WIN_OUT/drvg711.dll" ] || die "the build did not produce $WIN_OUT/drvg711.dll"
timing "windows build" "$START"

START=$(now_ms)
cp "$WIN_OUT/drvg711.dll" "$WORK/"
x86_64-w64-mingw32-gcc -std=c11 -O1 -Wall -Wextra -Werror "$ROOT/scripts/windows/acm-codec-test.c" \
    -o "$WORK/acm-codec-test.exe" -lmsacm32 -lwinmm || die "acm-codec-test.c does not compile"
timing "test program" "$START"

START=$(now_ms)
wait "$WINEBOOT_PID" || die "wineboot failed: $(cat "$WORK/wineboot.log")"
# One msacm.* value in the registry key (Wine 8.0's msacm32 skips later values with
# longer names); Wine's own codecs stay in system.ini [drivers32].
wine reg add "$DRIVERS32" /v msacm.drvg711 /d "$(winpath "$WORK/drvg711.dll")" /f >/dev/null 2>&1 ||
    die "wine reg add failed"
timing "wine prefix" "$START"

# run_test NAME: runs the test program, keeps its output in $WORK/NAME.out, and
# sets status to its exit status.
run_test() {
    local start
    start=$(now_ms)
    status=0
    if [ -n "${ACM_TEST_LOG:-}" ]; then
        WINEDEBUG=+msacm,+driver wine "$WORK/acm-codec-test.exe" drvproc G.711 2>"$ACM_TEST_LOG.$1" |
            tr -d '\r' | tee "$WORK/$1.out" || status=$?
    else
        wine "$WORK/acm-codec-test.exe" drvproc G.711 2>"$WORK/$1.err" | tr -d '\r' | tee "$WORK/$1.out" ||
            status=$?
    fi
    wineserver -w
    timing "acm-codec-test ($1)" "$start"
    grep -q '^acm-codec-test: ' "$WORK/$1.out" || {
        [ -f "$WORK/$1.err" ] && tail -n 20 "$WORK/$1.err" >&2
        die "acm-codec-test ($1) did not finish"
    }
}

failures=()
echo "=== acm-codec-test, the codec registered by msacm32 at its start"
run_test registered
[ "$status" -eq 0 ] || failures+=("acm-codec-test (registered at msacm32's start)")

# At exit msacm32 caches each driver's tags under DriverCache\<alias>, and later
# processes read the cache instead of asking the driver: it must be what msg711's is.
cache_of() {
    local key='HKLM\Software\Microsoft\AudioCompressionManager\DriverCache'
    { wine reg query "$key\\$1" 2>/dev/null || true; } | tr -d '\r' | awk '$2 ~ /^REG_/ {print $1, $2, $3}' | sort
}
cache_of msacm.drvg711 >"$WORK/cache.ours"
cache_of msacm.msg711 >"$WORK/cache.msg711"
echo
cat "$WORK/cache.ours"
if [ -s "$WORK/cache.ours" ] && diff -u "$WORK/cache.msg711" "$WORK/cache.ours"; then
    echo "PASS: msacm32's DriverCache entry of drvg711 = msg711's"
else
    echo "FAIL: msacm32's DriverCache entry of drvg711 differs from msg711's (- msg711, + drvg711)"
    failures+=("DriverCache")
fi

echo
echo "=== acm-codec-test, the codec known from msacm32's DriverCache"
run_test cached
[ "$status" -eq 0 ] || failures+=("acm-codec-test (from the DriverCache)")

timing total "$TOTAL_START"
if [ ${#failures[@]} -gt 0 ]; then
    printf 'windows-acm-test: FAILED: %s\n' "${failures[*]}" >&2
    exit 1
fi
echo "windows-acm-test: all passed"
