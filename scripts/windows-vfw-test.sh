#!/usr/bin/env bash
# The RLE8 video codec as a Windows DLL under Wine's own msvfw32, compared with Wine's
# own msrle32: builds drvrle8.dll (x86_64-win7-windows-gnu, std built from source with
# Debian's rustc), compiles scripts/windows/vfw-codec-test.c with mingw, registers the
# DLL in a throwaway Wine prefix (one `vidc.xrle` value in the Drivers32 registry key;
# msrle32 stays `vidc.mrle` in system.ini [drivers32]) and runs the test.
#
# Usage: scripts/windows-vfw-test.sh
# Environment:
#   DRVPROC_WINDOWS_TARGET_DIR  cargo target directory of the Windows build
#                               (default: target/windows; kept between runs as a cache)
#   VFW_TEST_LOG                if set, a file for the WINEDEBUG=+msvideo,+driver trace of the run
# Exit status: non-zero if the build or any check fails.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TRIPLE=x86_64-win7-windows-gnu
WIN_TARGET_DIR=${DRVPROC_WINDOWS_TARGET_DIR:-$ROOT/target/windows}
WIN_OUT=$WIN_TARGET_DIR/$TRIPLE/debug
DRIVERS32='HKLM\Software\Microsoft\Windows NT\CurrentVersion\Drivers32'
# The alias the codec is registered under: not `mrle`, which is msrle32's.
HANDLER=xrle

WORK=$(mktemp -d "${TMPDIR:-/tmp}/drvproc-vfw.XXXXXX")
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
    --target "$TRIPLE" -p drvproc-rle8) || die "the Windows build of drvproc-rle8 failed"
[ -f "$WIN_OUT/drvrle8.dll" ] || die "the build did not produce $WIN_OUT/drvrle8.dll"
timing "windows build" "$START"

START=$(now_ms)
cp "$WIN_OUT/drvrle8.dll" "$WORK/"
x86_64-w64-mingw32-gcc -std=c11 -O1 -Wall -Wextra -Werror "$ROOT/scripts/windows/vfw-codec-test.c" \
    -o "$WORK/vfw-codec-test.exe" -lmsvfw32 -lwinmm || die "vfw-codec-test.c does not compile"
timing "test program" "$START"

START=$(now_ms)
wait "$WINEBOOT_PID" || die "wineboot failed: $(cat "$WORK/wineboot.log")"
# msvfw32 reads the registry's vidc.* values before system.ini's, so ICInfo lists
# this codec first and ICLocate tries it first.
wine reg add "$DRIVERS32" /v "vidc.$HANDLER" /d "$(winpath "$WORK/drvrle8.dll")" /f >/dev/null 2>&1 ||
    die "wine reg add failed"
timing "wine prefix" "$START"

START=$(now_ms)
status=0
if [ -n "${VFW_TEST_LOG:-}" ]; then
    WINEDEBUG=+msvideo,+driver wine "$WORK/vfw-codec-test.exe" "$HANDLER" mrle 2>"$VFW_TEST_LOG" |
        tr -d '\r' | tee "$WORK/test.out" || status=$?
else
    wine "$WORK/vfw-codec-test.exe" "$HANDLER" mrle 2>"$WORK/test.err" | tr -d '\r' | tee "$WORK/test.out" ||
        status=$?
fi
wineserver -w
timing "vfw-codec-test" "$START"
grep -q '^vfw-codec-test: ' "$WORK/test.out" || {
    [ -f "$WORK/test.err" ] && tail -n 20 "$WORK/test.err" >&2
    die "vfw-codec-test did not finish"
}

timing total "$TOTAL_START"
if [ "$status" -ne 0 ]; then
    echo "windows-vfw-test: FAILED ($(grep -c '^FAIL' "$WORK/test.out") checks)" >&2
    exit 1
fi
echo "windows-vfw-test: all passed"
