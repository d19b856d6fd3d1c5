# Shared by scripts/windows-acm-test.sh and scripts/windows-vfw-test.sh, which
# source it: a scratch directory and throwaway Wine prefix removed at exit, the
# Windows build of codec packages (the profile and std of scripts/windows-test.sh,
# so all three share one target directory), the mingw test programs and a runner
# for them.
#
# The sourcing script sets ROOT (the checkout) and, before calling run_test,
# TRACE (empty, or a path prefix for traces of the runs) and TRACE_CHANNELS (the
# WINEDEBUG channels a trace records).

TRIPLE=x86_64-win7-windows-gnu
WIN_TARGET_DIR=${DRVPROC_WINDOWS_TARGET_DIR:-$ROOT/target/windows}
WIN_OUT=$WIN_TARGET_DIR/$TRIPLE/debug
DRIVERS32='HKLM\Software\Microsoft\Windows NT\CurrentVersion\Drivers32'

now_ms() { echo $(($(date +%s%N) / 1000000)); }
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

# setup NAME: the scratch directory $WORK (drvproc-NAME.*) with its Wine prefix,
# made in the background (wait_prefix waits for it); both go at exit.
setup() {
    local tool
    TOTAL_START=$(now_ms)
    for tool in wine wineboot wineserver x86_64-w64-mingw32-gcc /usr/bin/rustc /usr/bin/cargo; do
        command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (see scripts/windows-test.sh for the packages)"
    done
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/drvproc-$1.XXXXXX")
    export WINEPREFIX=$WORK/wine-prefix WINEARCH=win64 WINEDEBUG=-all WINEDLLOVERRIDES='mscoree,mshtml='
    unset DISPLAY WAYLAND_DISPLAY
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    (wineboot --init >"$WORK/wineboot.log" 2>&1 && wineserver -w) &
    WINEBOOT_PID=$!
}
cleanup() {
    if command -v wineserver >/dev/null 2>&1 && [ -d "$WINEPREFIX" ]; then
        wineserver -k >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
wait_prefix() {
    wait "$WINEBOOT_PID" || die "wineboot failed: $(cat "$WORK/wineboot.log")"
}

# build PACKAGE...: the packages' Windows DLLs (debug, unwinding std), in $WIN_OUT.
build() {
    local config=$WORK/cargo-windows.toml packages=() p
    for p in "$@"; do packages+=(-p "$p"); done
    printf '[target.%s]\nlinker = "x86_64-w64-mingw32-gcc"\n' "$TRIPLE" >"$config"
    (cd "$ROOT" && nice env PATH="/usr/bin:$PATH" RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
        CARGO_TARGET_DIR="$WIN_TARGET_DIR" /usr/bin/cargo --config "$config" build -q -Zbuild-std \
        --target "$TRIPLE" "${packages[@]}") || die "the Windows build of $* failed"
}

# compile PROGRAM LIB...: scripts/windows/PROGRAM.c into $WORK/PROGRAM.exe.
compile() {
    local prog=$1 libs=() l
    shift
    for l in "$@"; do libs+=("-l$l"); done
    x86_64-w64-mingw32-gcc -std=c11 -O1 -Wall -Wextra -Werror "$ROOT/scripts/windows/$prog.c" \
        -o "$WORK/$prog.exe" "${libs[@]}" || die "$prog.c does not compile"
}

# run_test NAME PROGRAM ARGS...: runs a test program, keeps its output in
# $WORK/NAME.out (and a trace in $TRACE.NAME when TRACE is set), and sets status to
# its exit status. A program that does not print its summary line ("PROGRAM: ...")
# did not finish: that is fatal.
run_test() {
    local start name=$1 prog=$2
    shift 2
    start=$(now_ms)
    status=0
    if [ -n "${TRACE:-}" ]; then
        WINEDEBUG=$TRACE_CHANNELS wine "$WORK/$prog.exe" "$@" 2>"$TRACE.$name" |
            tr -d '\r' | tee "$WORK/$name.out" || status=$?
    else
        wine "$WORK/$prog.exe" "$@" 2>"$WORK/$name.err" | tr -d '\r' | tee "$WORK/$name.out" || status=$?
    fi
    wineserver -w
    timing "$prog ($name)" "$start"
    grep -q "^$prog: " "$WORK/$name.out" || {
        [ -f "$WORK/$name.err" ] && tail -n 20 "$WORK/$name.err" >&2
        die "$prog ($name) did not finish"
    }
}
