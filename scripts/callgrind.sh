#!/usr/bin/env bash
# Instructions per operation, counted by valgrind's callgrind: a noise-free companion
# to scripts/bench.sh for comparing revisions on a shared, noisy machine.
#
#   scripts/callgrind.sh [TREE...]     (default: this checkout)
#
# For each TREE (a checkout of this repository, e.g. a `git worktree` of an older
# revision) it builds the null driver and libdrvproc in release, builds the workload
# in scripts/callgrind/main.rs against that tree's crates (a throwaway package under
# the tree's target directory, with the tree's Cargo.lock, so no tree is modified),
# and runs each operation under callgrind with N=0 and N=$N (default 100000) counted
# operations after one warm-up. Instructions per operation = (Ir(N) - Ir(0)) / N.
# Each TREE uses its own target directory ($TREE/target). Set KEEP=DIR to keep the
# callgrind outputs there (recorded with --dump-instr=yes, for callgrind_annotate).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
n=${N:-100000}
ops=(direct send capi sdk open_close)
[ $# -gt 0 ] || set -- "$here/.."
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

probe_for() {
    local root=$1 target=$1/target
    echo "== $root: building (release)" >&2
    local sdk=()
    # The SDK's null driver, where the tree has it (older revisions do not).
    [ -d "$root/drivers/null-sdk" ] && sdk=(-p drvproc-null-sdk)
    (cd "$root" && nice cargo build -q --release -p drvproc-null -p drvproc-capi "${sdk[@]}") >&2
    local pkg=$target/callgrind-probe
    mkdir -p "$pkg/src"
    cp "$here/callgrind/main.rs" "$pkg/src/main.rs"
    cp "$root/Cargo.lock" "$pkg/Cargo.lock"
    cat >"$pkg/Cargo.toml" <<TOML
[package]
name = "callgrind-probe"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
drvproc = { path = "$root/crates/drvproc" }
drvproc-host = { path = "$root/crates/drvproc-host" }
libloading = "0.9"

# The workspace's release profile: the send path inlines into this program.
[profile.release]
debug = 1
lto = "fat"
codegen-units = 1

[workspace]
TOML
    (cd "$pkg" && nice cargo build -q --release --target-dir "$pkg/target") >&2
    echo "$pkg/target/release/callgrind-probe"
}

ir() { # ir PROBE OP N ROOT COLUMN -> total instructions
    local file=$out/$5-$(basename "$4").$2.$3.cg
    valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file="$file" \
        "$1" "$2" "$3" "$4/target/release/libdrvnull.so" "$4/target/release/libdrvproc.so" \
        "$4/target/release/libdrvnullsdk.so" >/dev/null 2>"$file.log" \
        || { cat "$file.log" >&2; exit 1; }
    if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP"; cp "$file" "$KEEP/"; fi
    awk '/^(summary|totals):/ {print $2; exit}' "$file"
}

declare -A result
labels=()
for root in "$@"; do
    root=$(cd "$root" && pwd)
    # The checkout's directory and revision; `+` marks uncommitted changes to tracked
    # files (an experiment).
    label="$(basename "$root")@$(git -C "$root" rev-parse --short HEAD)"
    [ -z "$(git -C "$root" status --porcelain --untracked-files=no)" ] || label="$label+"
    col=${#labels[@]}
    labels+=("$label")
    probe=$(probe_for "$root")
    for op in "${ops[@]}"; do
        if [ "$op" = sdk ] && [ ! -f "$root/target/release/libdrvnullsdk.so" ]; then
            result[$col.$op]=-
            continue
        fi
        base=$(ir "$probe" "$op" 0 "$root" "$col")
        full=$(ir "$probe" "$op" "$n" "$root" "$col")
        result[$col.$op]=$(awk -v a="$base" -v b="$full" -v n="$n" 'BEGIN {printf "%.2f", (b - a) / n}')
    done
done

printf "instructions per operation (callgrind, N=%s)\n" "$n"
printf "%-12s" "operation"; for l in "${labels[@]}"; do printf "  %${#l}s" "$l"; done; echo
for op in "${ops[@]}"; do
    printf "%-12s" "$op"
    for col in "${!labels[@]}"; do l=${labels[$col]}; printf "  %${#l}s" "${result[$col.$op]}"; done
    echo
done
