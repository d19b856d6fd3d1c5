#!/usr/bin/env bash
# What SendDriverMessage costs over a direct call of the same trivial C driver, for
# three managers, with one benchmark source (scripts/send-cost.c) and one driver
# source (scripts/send-cost-driver.c):
#   - Linux: libdrvproc (release build of crates/drvproc-capi);
#   - Wine: Wine's own winmm;
#   - Wine: drvproc.dll (release build of crates/drvproc-capi for x86_64-win7-windows-gnu);
#     Wine 8.0's FlushProcessWriteBuffers is a stub (it does nothing), so under Wine
#     drvproc keeps a full fence in every send; on Windows sends are fence-free.
# Prints one table row per manager: ns per direct call, ns per send, their ratio.
# Each figure is the fastest of ROUNDS rounds of CALLS calls, in one process.
#
# Usage: scripts/windows-bench.sh
# Environment:
#   DRVPROC_ROOT                the tree whose drvproc is measured (default: this
#                               script's repository); the C sources are always the
#                               ones beside this script
#   CARGO_TARGET_DIR            cargo target directory of the Linux build
#                               (default: $DRVPROC_ROOT/target)
#   DRVPROC_WINDOWS_TARGET_DIR  cargo target directory of the Windows build
#                               (default: $DRVPROC_ROOT/target/windows)
#   WINEPREFIX                  an existing 64-bit Wine prefix to use (default: a
#                               throwaway one, ~11 s to create)
#   SEND_COST_CALLS, SEND_COST_ROUNDS   default 10000000 and 5
#   CARGO                       the Linux cargo (default: cargo)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "${DRVPROC_ROOT:-$HERE/..}" && pwd)
TRIPLE=x86_64-win7-windows-gnu
LINUX_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WIN_TARGET_DIR=${DRVPROC_WINDOWS_TARGET_DIR:-$ROOT/target/windows}
LINUX_CARGO=${CARGO:-cargo}
CALLS=${SEND_COST_CALLS:-10000000}
ROUNDS=${SEND_COST_ROUNDS:-5}
INCLUDE=$ROOT/crates/drvproc-capi/include
LINUX_OUT=$LINUX_TARGET_DIR/release
WIN_OUT=$WIN_TARGET_DIR/$TRIPLE/release
CFLAGS=(-O2 -std=c11 -Wall -Wextra -Werror)

die() {
    echo "windows-bench: $*" >&2
    exit 1
}

for tool in gcc x86_64-w64-mingw32-gcc wine wineboot wineserver /usr/bin/rustc /usr/bin/cargo; do
    command -v "$tool" >/dev/null 2>&1 ||
        die "$tool is missing (packages: gcc gcc-mingw-w64-x86-64 wine wine64 rustc-web cargo-web rust-web-src)"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/drvproc-windows-bench.XXXXXX")
OWN_PREFIX=
if [ -z "${WINEPREFIX:-}" ]; then
    OWN_PREFIX=1
    WINEPREFIX=$WORK/wine-prefix
fi
export WINEPREFIX WINEARCH=win64 WINEDEBUG=-all WINEDLLOVERRIDES='mscoree,mshtml='
unset DISPLAY WAYLAND_DISPLAY

cleanup() {
    [ -z "$OWN_PREFIX" ] || wineserver -k >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Linux paths as Wine shows them (drive Z: is the Unix root).
winpath() {
    local p=${1//\//\\}
    printf 'Z:%s' "$p"
}

# The prefix boots in the background while the builds run.
BOOT_PID=
if [ ! -f "$WINEPREFIX/system.reg" ]; then
    (wineboot --init && wineserver -w) >"$WORK/wineboot.log" 2>&1 &
    BOOT_PID=$!
fi

echo "== linux build: libdrvproc (release) of $ROOT" >&2
(cd "$ROOT" && CARGO_TARGET_DIR=$LINUX_TARGET_DIR nice "$LINUX_CARGO" build -q --release -p drvproc-capi) ||
    die "the Linux build failed"

echo "== windows build: drvproc.dll (release, std from source)" >&2
# Debian's toolchain, never rustup's proxies; the linker setting lives in a config
# file of this run only.
cat >"$WORK/cargo-windows.toml" <<EOF
[target.$TRIPLE]
linker = "x86_64-w64-mingw32-gcc"
EOF
(cd "$ROOT" && nice env PATH="/usr/bin:$PATH" RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
    CARGO_TARGET_DIR="$WIN_TARGET_DIR" /usr/bin/cargo --config "$WORK/cargo-windows.toml" build -q --release \
    -Zbuild-std=std,panic_abort --target "$TRIPLE" -p drvproc-capi) || die "the Windows build failed"
for f in drvproc.dll libdrvproc.dll.a; do
    [ -f "$WIN_OUT/$f" ] || die "the Windows build did not produce $WIN_OUT/$f"
done

echo "== C programs" >&2
mkdir -p "$WORK/linux" "$WORK/winmm" "$WORK/drvproc"
gcc "${CFLAGS[@]}" -shared -fPIC -I "$INCLUDE" "$HERE/send-cost-driver.c" -o "$WORK/linux/libsendcost.so"
gcc "${CFLAGS[@]}" -I "$INCLUDE" "$HERE/send-cost.c" -o "$WORK/linux/send-cost" \
    -L "$LINUX_OUT" -Wl,-rpath,"$LINUX_OUT" -ldrvproc -ldl
x86_64-w64-mingw32-gcc "${CFLAGS[@]}" -shared -I "$INCLUDE" "$HERE/send-cost-driver.c" -o "$WORK/sendcost.dll"
x86_64-w64-mingw32-gcc "${CFLAGS[@]}" "$HERE/send-cost.c" -o "$WORK/winmm/send-cost.exe" -lwinmm
x86_64-w64-mingw32-gcc "${CFLAGS[@]}" "$HERE/send-cost.c" -o "$WORK/drvproc/send-cost.exe" -L "$WIN_OUT" -ldrvproc
cp "$WIN_OUT/drvproc.dll" "$WORK/drvproc/"

if [ -n "$BOOT_PID" ]; then
    echo "== wine prefix (waiting for it)" >&2
    wait "$BOOT_PID" || die "wineboot failed: $(cat "$WORK/wineboot.log")"
fi

# run NAME COMMAND...: the benchmark's output, kept as $WORK/NAME.out.
run() {
    local name=$1
    shift
    echo "== run: $name" >&2
    "$@" 2>"$WORK/$name.err" | tr -d '\r' >"$WORK/$name.out" || true
    grep -q '^send-cost: ratio: ' "$WORK/$name.out" ||
        die "$name did not finish: $(cat "$WORK/$name.out" "$WORK/$name.err")"
}
run linux env -u DRVPROC_NO_MEMBARRIER DRVPROC_CONFIG=/nonexistent/drvproc-bench/system.ini \
    "$WORK/linux/send-cost" "$WORK/linux/libsendcost.so" "$CALLS" "$ROUNDS"
run winmm wine "$WORK/winmm/send-cost.exe" "$(winpath "$WORK/sendcost.dll")" "$CALLS" "$ROUNDS"
run drvproc env -u DRVPROC_NO_MEMBARRIER DRVPROC_CONFIG='Z:\nonexistent\drvproc-bench\system.ini' \
    wine "$WORK/drvproc/send-cost.exe" "$(winpath "$WORK/sendcost.dll")" "$CALLS" "$ROUNDS"

# field NAME KEY: the number after "send-cost: KEY: " in NAME's output.
field() {
    sed -n "s/^send-cost: $2: \([0-9.]*\).*/\1/p" "$WORK/$1.out"
}

commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
echo
echo "SendDriverMessage(DRV_USER + 1) vs a direct DriverProc call, fastest of $ROUNDS rounds of $CALLS calls"
echo "drvproc: $ROOT at $commit; $(wine --version 2>/dev/null || echo 'wine ?')"
echo
printf '| %-8s | %-21s | %11s | %17s | %6s |\n' platform manager "direct call" SendDriverMessage ratio
printf '|%s|%s|%s|%s|%s|\n' ---------- ----------------------- ------------- ------------------- --------
for row in "linux:Linux:libdrvproc (release)" "winmm:Wine:Wine's winmm" "drvproc:Wine:drvproc.dll (release)"; do
    IFS=: read -r name platform manager <<<"$row"
    printf '| %-8s | %-21s | %8s ns | %14s ns | %5sx |\n' "$platform" "$manager" \
        "$(field "$name" "direct call")" "$(field "$name" SendDriverMessage)" "$(field "$name" ratio)"
done
