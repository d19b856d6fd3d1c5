#!/usr/bin/env bash
# Builds drvproc for Windows (x86_64-win7-windows-gnu, std built from source with
# Debian's rustc) and checks it under Wine:
#   - the workspace's tests, run as Windows executables;
#   - that every SDK driver DLL exports DriverProc;
#   - the class kits' Win32 structure layouts (a check build for i686);
#   - one C client scenario through Wine's own winmm (by file and by a Drivers32
#     registry alias) against the same scenario on Linux through libdrvproc, after
#     the documented deviations of spec section 15;
#   - the same client linked against drvproc.dll: identical to Linux;
#   - the C sample driver built with mingw and driven by winmm, answering as on Linux;
#   - drvctl.exe list/doctor/send/check on Wine's own codecs.
# Every phase runs even when an earlier one fails; the summary lists the failures and
# the exit status is non-zero if there is any.
#
# Usage: scripts/windows-test.sh
# Environment:
#   DRVPROC_WINDOWS_TARGET_DIR  cargo target directory of the Windows build
#                               (default: target/windows; kept between runs as a cache)
#   CARGO                       the Linux cargo (default: cargo)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TRIPLE=x86_64-win7-windows-gnu
WIN_TARGET_DIR=${DRVPROC_WINDOWS_TARGET_DIR:-$ROOT/target/windows}
LINUX_CARGO=${CARGO:-cargo}
WIN_OUT=$WIN_TARGET_DIR/$TRIPLE/debug
LINUX_OUT=$ROOT/target/debug
CLIENT_DIR=$ROOT/scripts/windows
INCLUDE=$ROOT/crates/drvproc-capi/include
DRIVERS32='HKLM\Software\Microsoft\Windows NT\CurrentVersion\Drivers32'

WORK=$(mktemp -d "${TMPDIR:-/tmp}/drvproc-windows.XXXXXX")
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

# ---------------------------------------------------------------------------
# Phases, timing and the failure summary

FAILURES=()
PHASE=
PHASE_START=0
now_ms() { echo $(($(date +%s%N) / 1000000)); }
TOTAL_START=$(now_ms)

# timing NAME START_MS: one timing line.
timing() {
    local ms=$(($(now_ms) - $2))
    printf 'timing: %-38s %4d.%01d s\n' "$1" $((ms / 1000)) $((ms % 1000 / 100))
}

end_phase() {
    [ -z "$PHASE" ] || timing "$PHASE" "$PHASE_START"
    PHASE=
}

phase() {
    end_phase
    PHASE=$1
    PHASE_START=$(now_ms)
    printf '\n=== %s\n' "$PHASE"
}

fail() {
    echo "FAIL: $*" >&2
    FAILURES+=("$PHASE: $*")
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

# ---------------------------------------------------------------------------
phase "install"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
command -v wine >/dev/null 2>&1 || missing+=(wine)
command -v wine64 >/dev/null 2>&1 || [ -x /usr/lib/wine/wine64 ] || missing+=(wine64)
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || missing+=(gcc-mingw-w64-x86-64)
# Debian's rustc-web/cargo-web install /usr/bin/rustc and /usr/bin/cargo; the std
# sources for -Zbuild-std come with rust-web-src.
[ -x /usr/bin/rustc ] || missing+=(rustc-web)
[ -x /usr/bin/cargo ] || missing+=(cargo-web)
[ -d /usr/lib/rustlib/src/rust/library ] || missing+=(rust-web-src)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
else
    echo "all tools present"
fi
command -v gcc >/dev/null 2>&1 || die "gcc is needed for the Linux side of the comparison"

# The Windows build uses Debian's toolchain, never rustup's proxies; its linker
# setting lives in a config file of this run only, so Linux builds are unaffected.
CARGO_CONFIG=$WORK/cargo-windows.toml
cat >"$CARGO_CONFIG" <<EOF
[target.$TRIPLE]
linker = "x86_64-w64-mingw32-gcc"
runner = "wine"
EOF

WIN_CARGO=(env PATH="/usr/bin:$PATH" RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
    CARGO_TARGET_DIR="$WIN_TARGET_DIR" /usr/bin/cargo --config "$CARGO_CONFIG")
win_cargo() {
    nice "${WIN_CARGO[@]}" "$@"
}

# ---------------------------------------------------------------------------
# The throwaway Wine prefix, created in the background while the builds run.
WINEBOOT_START=$(now_ms)
(
    wineboot --init >"$WORK/wineboot.log" 2>&1
    wineserver -w
    timing "wine prefix (in the background)" "$WINEBOOT_START" >"$WORK/wineboot.timing"
) &
WINEBOOT_PID=$!

# ---------------------------------------------------------------------------
phase "linux build"
(cd "$ROOT" && nice "$LINUX_CARGO" build -q -p drvproc-capi -p drvproc-trace -p drvproc-sample) ||
    die "the Linux build failed"

# ---------------------------------------------------------------------------
phase "windows build (std from source)"
# One profile (debug, unwinding std) for the DLLs, the programs and the tests, so
# that std is built once.
(cd "$ROOT" && win_cargo build -q -Zbuild-std --target "$TRIPLE" --workspace) ||
    die "the Windows build failed"
for f in drvproc.dll libdrvproc.dll.a drvctl.exe drvtrace.dll drvsample.dll drvnull.dll drvbroken.dll; do
    [ -f "$WIN_OUT/$f" ] || die "the Windows build did not produce $f"
done

# ---------------------------------------------------------------------------
phase "win32 layouts (i686 check build)"
# The class kits' structures have Win32 layouts too, asserted at compile time for
# 32-bit targets (crates/drvproc/src/{acm,vfw}/layout.rs): a check build for i686
# evaluates them with no i686 linker or libraries.
(cd "$ROOT" && win_cargo check -q -Zbuild-std --target i686-unknown-linux-gnu -p drvproc) ||
    fail "drvproc's structures do not have their Win32 layouts on i686"

# ---------------------------------------------------------------------------
phase "DLL exports"
exports_of() {
    # The names in the PE export table ("[   0] DriverProc" lines).
    x86_64-w64-mingw32-objdump -p "$1" |
        sed -n '/\[Ordinal\/Name Pointer\] Table/,/^$/p' | sed -n 's/^[[:space:]]*\[ *[0-9]*\] //p'
}
# exports DLL NAME...: fails the phase for each NAME that DLL does not export.
exports() {
    local dll=$1 names
    shift
    names=$(exports_of "$dll")
    for name in "$@"; do
        if grep -qx "$name" <<<"$names"; then
            echo "$(basename "$dll") exports $name"
        else
            fail "$(basename "$dll") does not export $name (it exports: $(echo $names))"
        fi
    done
}
for dll in drvsample drvtrace drvnull drvbroken; do
    exports "$WIN_OUT/$dll.dll" DriverProc
done
exports "$WIN_OUT/drvproc.dll" OpenDriver OpenDriverA SendDriverMessage CloseDriver DefDriverProc \
    GetDriverModuleHandle DriverCallback

phase "wine prefix (wait)"
wait "$WINEBOOT_PID" || die "wineboot failed: $(cat "$WORK/wineboot.log")"
cat "$WORK/wineboot.timing"

# ---------------------------------------------------------------------------
phase "workspace tests under wine"
# Each package's tests as Windows executables, one package at a time so that a test
# target that does not compile for Windows hides no other package's results. The
# Unix-only tests are gated out with #[cfg(unix)] in the sources.
packages=()
for member in $(sed -n '/^members/,/^]/p' "$ROOT/Cargo.toml" | grep -o '"[^"]*"' | tr -d '"'); do
    packages+=("$(sed -n 's/^name = "\(.*\)"/\1/p' "$ROOT/$member/Cargo.toml" | head -n 1)")
done
for package in "${packages[@]}"; do
    log=$WORK/tests-$package.log
    status=0
    (cd "$ROOT" && timeout 900 nice "${WIN_CARGO[@]}" test -Zbuild-std --target "$TRIPLE" -p "$package" \
        --no-fail-fast >"$log" 2>&1) || status=$?
    counts=$(awk '/^test result:/ {p += $4; f += $6} END {printf "%d passed, %d failed", p, f}' "$log")
    if [ "$status" -eq 0 ]; then
        echo "$package: $counts"
    elif grep -q '^error\(\[E[0-9]*\]\)\?: ' "$log" && ! grep -q '^test result:' "$log"; then
        grep -E '^error(\[E[0-9]+\])?: |^ *--> ' "$log" | head -n 10 || true
        fail "$package: its tests do not compile for Windows"
    else
        grep -E '^test .* FAILED$' "$log" | sed "s/^/$package: /" || true
        fail "$package: $counts under Wine (status $status)"
    fi
done

# ---------------------------------------------------------------------------
# The client scenario (scripts/windows/client.c): trace driver copies in one
# directory per platform, each with its drvtrace.env.

# make_copies DIR LIBRARY: DIR/main (default answers), DIR/fail (first DRV_OPEN
# answers 0), DIR/load2 (DRV_LOAD answers 2), each a copy of LIBRARY.
make_copies() {
    local dir=$1 lib=$2 name
    name=$(basename "$lib")
    mkdir -p "$dir/main" "$dir/fail" "$dir/load2"
    for d in main fail load2; do cp "$lib" "$dir/$d/$name"; done
    printf 'LOG=trace.log\n' >"$dir/main/drvtrace.env"
    printf 'LOG=trace.log\nFAIL_OPEN=1\n' >"$dir/fail/drvtrace.env"
    printf 'LOG=trace.log\nLOAD=2\n' >"$dir/load2/drvtrace.env"
}

# normalize <trace.log: one line per message, handles numbered H1, H2... in order
# of first appearance, DRV_OPEN's lParam1 shown as its args string (a pointer's
# value means nothing across processes). After a DRV_FREE (the scenarios' modules
# live one after another), a handle value seen again is a new handle: Wine's winmm
# allocates handles from its heap, and may give a freed one's address out again,
# depending on what else was allocated meanwhile.
normalize() {
    awk '
    function after(text, key,    at) {
        if (!match(text, " " key "=[^ ]+")) return "?"
        return substr(text, RSTART + length(key) + 2, RLENGTH - length(key) - 2)
    }
    {
        name = $0; sub(/.* # /, "", name)
        h = after($0, "h")
        if (!(h in seen)) seen[h] = "H" (++n)
        match($0, / args=("([^"\\]|\\.)*"|-)/)
        args = substr($0, RSTART + 6, RLENGTH - 6)
        rest = substr($0, RSTART + RLENGTH)
        first = (name == "DRV_OPEN") ? "args=" args : "l1=" after($0, "l1")
        print name " id=" after($0, "id") " h=" seen[h] " " first " l2=" after(rest, "l2") " ret=" after(rest, "ret")
        if (name == "DRV_FREE") delete seen
    }'
}

# wine_deviations <normalized drvproc log: what Wine 8.0 winmm records instead,
# applying spec section 15 (each rule checked against Wine by this scenario):
#   D2  DRV_LOAD answering non-zero but not 1: Wine fails the open after DRV_LOAD
#       (no DRV_ENABLE, nothing else of that load); drvproc accepts any non-zero.
#   D3  DRV_DISABLE/DRV_FREE: Wine passes the closing instance's id, drvproc 0.
#   D4  the first instance's DRV_OPEN answering 0: Wine unmaps without
#       DRV_DISABLE/DRV_FREE; drvproc sends both.
#   D15 first open with lParam2 != 0 (session scheme, D5): Wine gives the args only
#       to the hidden session instance, the real one gets NULL; drvproc gives both.
# Not deviations here: D1 (both pass the opening handle in DRV_LOAD), D5 (drvproc's
# session scheme is on by default), D6 (both return 1 from CloseDriver), D14 (no
# space in these paths).
wine_deviations() {
    awk '
    function field(key,    i) { for (i = 2; i <= NF; i++) if (index($i, key "=") == 1) return substr($i, length(key) + 2); return "" }
    function setfield(key, value,    i) { for (i = 2; i <= NF; i++) if (index($i, key "=") == 1) $i = key "=" value }
    {
        name = $1
        if (skipping && name != "DRV_LOAD") next
        skipping = 0
        if (name == "DRV_LOAD" && field("ret") != "0" && field("ret") != "1") { print; skipping = 1; prev2 = prev; prev = name; next }   # D2
        if (name == "DRV_CLOSE") closed[field("h")] = field("id")
        if ((name == "DRV_DISABLE" || name == "DRV_FREE") && dropping[field("h")]) next                                  # D4
        if (name == "DRV_DISABLE" || name == "DRV_FREE") setfield("id", closed[field("h")])                                 # D3
        if (name == "DRV_OPEN" && field("ret") == "0" && prev == "DRV_ENABLE") dropping[field("h")] = 1                    # D4
        if (name == "DRV_OPEN" && field("l2") != "0" && prev == "DRV_OPEN" && prev2 == "DRV_ENABLE") sub(/ args=("([^"\\]|\\.)*"|-)/, " args=-") # D15
        prev2 = prev; prev = name
        print
    }'
}

# What the client prints under winmm, from what it prints through drvproc:
#   D2  the LOAD=2 copy does not open under winmm.
wine_client_deviations() {
    sed -e 's/^load2: open ok$/load2: open NULL/' -e '/^load2: close -> /d'
}

# same WHAT EXPECTED ACTUAL: fails the phase with a diff unless the files are equal.
same() {
    if diff -u "$2" "$3" >"$WORK/diff" 2>&1; then
        echo "ok: $1"
    else
        cat "$WORK/diff"
        fail "$1 differs (- expected, + actual)"
    fi
}

run_logs_into() {
    local dir=$1 out=$2
    for d in main fail load2; do
        if [ -f "$dir/$d/trace.log" ]; then normalize <"$dir/$d/trace.log" >"$out.$d"; else : >"$out.$d"; fi
    done
}

# ---------------------------------------------------------------------------
phase "client on linux (libdrvproc)"
LIN=$WORK/linux
make_copies "$LIN" "$LINUX_OUT/libdrvtrace.so"
printf '[Drivers32]\ntrace.alias=%s from alias\n' "$LIN/main/libdrvtrace.so" >"$LIN/system.ini"
gcc -std=c11 -Wall -Wextra -Werror -I "$INCLUDE" "$CLIENT_DIR/client.c" -o "$LIN/client" \
    -L "$LINUX_OUT" -Wl,-rpath,"$LINUX_OUT" -ldrvproc
DRVPROC_CONFIG=$LIN/system.ini "$LIN/client" "$LIN/main/libdrvtrace.so" "$LIN/fail/libdrvtrace.so" \
    "$LIN/load2/libdrvtrace.so" >"$WORK/linux.out"
run_logs_into "$LIN" "$WORK/linux.log"
cat "$WORK/linux.out"

# ---------------------------------------------------------------------------
phase "client through wine's winmm"
WMM=$WORK/winmm
make_copies "$WMM" "$WIN_OUT/drvtrace.dll"
x86_64-w64-mingw32-gcc -std=c11 -Wall -Wextra -Werror "$CLIENT_DIR/client.c" -o "$WMM/client.exe" -lwinmm
wine reg add "$DRIVERS32" /v trace.alias /d "$(winpath "$WMM/main/drvtrace.dll") from alias" /f >/dev/null 2>&1 ||
    fail "wine reg add failed"
wine "$WMM/client.exe" "$(winpath "$WMM/main/drvtrace.dll")" "$(winpath "$WMM/fail/drvtrace.dll")" \
    "$(winpath "$WMM/load2/drvtrace.dll")" >"$WORK/winmm.out" 2>"$WORK/winmm.err" || fail "the winmm client failed: $(cat "$WORK/winmm.err")"
wineserver -w
tr -d '\r' <"$WORK/winmm.out" >"$WORK/winmm.out.unix"
run_logs_into "$WMM" "$WORK/winmm.log"
wine_client_deviations <"$WORK/linux.out" >"$WORK/winmm.expected.out"
same "winmm client answers = Linux after D2" "$WORK/winmm.expected.out" "$WORK/winmm.out.unix"
for d in main fail load2; do
    wine_deviations <"$WORK/linux.log.$d" >"$WORK/winmm.expected.$d"
    same "winmm messages ($d) = Linux after D2/D3/D4/D15" "$WORK/winmm.expected.$d" "$WORK/winmm.log.$d"
done
wine reg delete "$DRIVERS32" /v trace.alias /f >/dev/null 2>&1 || true

# run_drvproc_client NAME CONFIG: the client linked against drvproc.dll, in its own
# directory beside a copy of drvproc.dll; CONFIG (a file, or "registry") says where
# the alias is.
run_drvproc_client() {
    local name=$1 config=$2 dir=$WORK/$1
    make_copies "$dir" "$WIN_OUT/drvtrace.dll"
    cp "$WIN_OUT/drvproc.dll" "$dir/"
    x86_64-w64-mingw32-gcc -std=c11 -Wall -Wextra -Werror -DUSE_DRVPROC -I "$INCLUDE" "$CLIENT_DIR/client.c" \
        -o "$dir/client.exe" -L "$WIN_OUT" -ldrvproc
    local env=()
    if [ "$config" = registry ]; then
        wine reg add "$DRIVERS32" /v trace.alias /d "$(winpath "$dir/main/drvtrace.dll") from alias" /f >/dev/null 2>&1
        env=(env -u DRVPROC_CONFIG)
    else
        printf '[Drivers32]\r\ntrace.alias=%s from alias\r\n' "$(winpath "$dir/main/drvtrace.dll")" >"$dir/system.ini"
        env=(env DRVPROC_CONFIG="$(winpath "$dir/system.ini")")
    fi
    "${env[@]}" wine "$dir/client.exe" "$(winpath "$dir/main/drvtrace.dll")" "$(winpath "$dir/fail/drvtrace.dll")" \
        "$(winpath "$dir/load2/drvtrace.dll")" >"$dir.out" 2>"$dir.err" || fail "the drvproc.dll client failed: $(cat "$dir.err")"
    wineserver -w
    if [ "$config" = registry ]; then
        wine reg delete "$DRIVERS32" /v trace.alias /f >/dev/null 2>&1 || true
    fi
    tr -d '\r' <"$dir.out" >"$dir.out.unix"
    run_logs_into "$dir" "$dir.log"
    same "drvproc.dll client answers ($name) = Linux" "$WORK/linux.out" "$dir.out.unix"
    for d in main fail load2; do
        same "drvproc.dll messages ($name, $d) = Linux" "$WORK/linux.log.$d" "$dir.log.$d"
    done
}

# ---------------------------------------------------------------------------
phase "client through drvproc.dll (ini)"
run_drvproc_client drvproc-ini file

phase "client through drvproc.dll (registry)"
run_drvproc_client drvproc-registry registry

# ---------------------------------------------------------------------------
phase "C sample driver (mingw) under winmm"
SC=$WORK/sample-c
mkdir -p "$SC"
# Linux: the sample built as the README shows, driven through libdrvproc.
gcc -shared -fPIC -std=c11 -Wall -Wextra -Werror -I "$INCLUDE" "$ROOT/drivers/sample-c/sample.c" \
    -o "$SC/libdrvsamplec.so" -L "$LINUX_OUT" -Wl,-rpath,"$LINUX_OUT" -ldrvproc
gcc -std=c11 -Wall -Wextra -Werror -I "$INCLUDE" "$CLIENT_DIR/messages.c" -o "$SC/messages" \
    -L "$LINUX_OUT" -Wl,-rpath,"$LINUX_OUT" -ldrvproc
DRVPROC_CONFIG=$SC/none.ini "$SC/messages" "$SC/libdrvsamplec.so" >"$SC/linux.out"
DRVPROC_CONFIG=$SC/none.ini "$SC/messages" "$LINUX_OUT/libdrvsample.so" >"$SC/linux-rust.out"
# Windows: the same source against drvproc.h, DefDriverProc from winmm.
x86_64-w64-mingw32-gcc -shared -std=c11 -Wall -Wextra -Werror -I "$INCLUDE" "$ROOT/drivers/sample-c/sample.c" \
    -o "$SC/drvsamplec.dll" -lwinmm
exports "$SC/drvsamplec.dll" DriverProc
x86_64-w64-mingw32-gcc -std=c11 -Wall -Wextra -Werror "$CLIENT_DIR/messages.c" -o "$SC/messages.exe" -lwinmm
wine "$SC/messages.exe" "$(winpath "$SC/drvsamplec.dll")" 2>/dev/null | tr -d '\r' >"$SC/winmm.out" || true
wine "$SC/messages.exe" "$(winpath "$WIN_OUT/drvsample.dll")" 2>/dev/null | tr -d '\r' >"$SC/winmm-rust.out" || true
cat "$SC/winmm.out"
same "C sample under winmm = under libdrvproc on Linux" "$SC/linux.out" "$SC/winmm.out"
same "Rust sample under winmm = under libdrvproc on Linux" "$SC/linux-rust.out" "$SC/winmm-rust.out"

# ---------------------------------------------------------------------------
phase "drvctl.exe on wine's codecs"
DRVCTL=$WIN_OUT/drvctl.exe
# drvctl_run NAME ARGS...: runs drvctl.exe with no --config, keeps its output.
drvctl_run() {
    local name=$1
    shift
    local status=0
    env -u DRVPROC_CONFIG -u DRVPROC_PATH wine "$DRVCTL" "$@" >"$WORK/drvctl-$name.out" 2>&1 || status=$?
    tr -d '\r' <"$WORK/drvctl-$name.out"
    [ "$status" -eq 0 ] || fail "drvctl.exe $* exited with status $status"
}
drvctl_run list list
for codec in msrle32.dll iccvid.dll msvidc32.dll imaadp32.acm msg711.acm; do
    grep -qi "$codec" "$WORK/drvctl-list.out" || fail "drvctl.exe list does not show Wine's $codec"
done
# Wine 8.0's own system.ini lists `[mci] vcr = mcivisca.drv`, a driver Wine does not
# ship: doctor must find exactly that entry broken, and so exit 1.
status=0
env -u DRVPROC_CONFIG -u DRVPROC_PATH wine "$DRVCTL" doctor >"$WORK/drvctl-doctor.out" 2>&1 || status=$?
tr -d '\r' <"$WORK/drvctl-doctor.out" | tee "$WORK/drvctl-doctor.unix"
[ "$status" -eq 1 ] || fail "drvctl.exe doctor exited with status $status, not 1 (one broken entry)"
grep -q '^broken \[mci\] vcr = mcivisca.drv: ' "$WORK/drvctl-doctor.unix" && grep -q ', 1 broken$' "$WORK/drvctl-doctor.unix" ||
    fail "drvctl.exe doctor did not find exactly Wine's mcivisca.drv entry broken"
grep -q '^ok     \[drivers32\] vidc.mrle = msrle32.dll: loads and opens' "$WORK/drvctl-doctor.unix" ||
    fail "drvctl.exe doctor does not open Wine's msrle32.dll by its alias"
drvctl_run send send vidc.mrle DRV_QUERYCONFIGURE
drvctl_run check check msrle32.dll

# ---------------------------------------------------------------------------
phase "README's Windows blocks"
# The blocks of README.md marked `sh windows` run as written, in order, in one bash
# (as the README's other blocks do in cargo test), in a scratch directory holding a
# link to each top-level entry of the repository (`target` too, so the README's
# release build lands in target/windows), with the `c file=NAME` blocks saved there.
RB=$WORK/readme
mkdir -p "$RB"
for entry in "$ROOT"/*; do ln -s "$entry" "$RB/"; done
awk -v dir="$RB" -v script="$WORK/readme.sh" '
    /^```/ && !inside {
        inside = 1; out = ""
        if ($1 == "```sh" && $2 == "windows") out = script
        else if ($1 == "```c" && $2 ~ /^file=/) { out = dir "/" substr($2, 6); printf "" >out }
        next
    }
    /^```/ && inside { inside = 0; if (out == script) print "" >>script; out = ""; next }
    inside && out != "" { print >>out }
' "$ROOT/README.md"
if [ ! -s "$WORK/readme.sh" ]; then
    fail "README.md has no \`sh windows\` blocks"
elif (cd "$RB" && env -u DRVPROC_CONFIG -u DRVPROC_PATH bash -euo pipefail "$WORK/readme.sh") >"$WORK/readme.out" 2>&1; then
    tr -d '\r' <"$WORK/readme.out" >"$WORK/readme.out.unix"
    grep -q '^msacm.sample: DRV_QUERYCONFIGURE answered 0$' "$WORK/readme.out.unix" ||
        fail "the README's client did not print what the README says: $(tail -n 5 "$WORK/readme.out.unix")"
    echo "the README's Windows blocks ran"
else
    tr -d '\r' <"$WORK/readme.out" | tail -n 30
    fail "the README's Windows blocks failed"
fi

# ---------------------------------------------------------------------------
end_phase
timing total "$TOTAL_START"
if [ ${#FAILURES[@]} -gt 0 ]; then
    printf '\nwindows-test: %d failure(s):\n' "${#FAILURES[@]}" >&2
    printf '  %s\n' "${FAILURES[@]}" >&2
    exit 1
fi
echo "windows-test: all passed"
