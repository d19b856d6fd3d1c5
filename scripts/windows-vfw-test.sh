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
#   VFW_TEST_LOG                if set, a path prefix for the WINEDEBUG=+msvideo,+driver trace of the run
#                               (VFW_TEST_LOG.rle8)
# Exit status: non-zero if the build or any check fails.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=windows/codec-test.sh
. "$ROOT/scripts/windows/codec-test.sh"
TRACE=${VFW_TEST_LOG:-}
TRACE_CHANNELS=+msvideo,+driver
# The alias the codec is registered under: not `mrle`, which is msrle32's.
HANDLER=xrle

setup vfw
START=$(now_ms)
build drvproc-rle8
[ -f "$WIN_OUT/drvrle8.dll" ] || die "the build did not produce $WIN_OUT/drvrle8.dll"
cp "$WIN_OUT/drvrle8.dll" "$WORK/"
timing "windows build" "$START"

START=$(now_ms)
compile vfw-codec-test msvfw32 winmm
timing "test program" "$START"

START=$(now_ms)
wait_prefix
# msvfw32 reads the registry's vidc.* values before system.ini's, so ICInfo lists
# this codec first and ICLocate tries it first.
wine reg add "$DRIVERS32" /v "vidc.$HANDLER" /d "$(winpath "$WORK/drvrle8.dll")" /f >/dev/null 2>&1 ||
    die "wine reg add failed"
timing "wine prefix" "$START"

run_test rle8 vfw-codec-test "$HANDLER" mrle

timing total "$TOTAL_START"
if [ "$status" -ne 0 ]; then
    echo "windows-vfw-test: FAILED ($(grep -c '^FAIL' "$WORK/rle8.out") checks)" >&2
    exit 1
fi
echo "windows-vfw-test: all passed"
