#!/usr/bin/env bash
# The bitness bridge: builds drvproc-hostd and the trace driver for i686 Linux (std
# built from source with Debian's rustc, linked with gcc -m32), then runs the test
# in which this machine's 64-bit manager hosts the 32-bit driver in the 32-bit host
# (crates/drvproc-host/tests/isolation_bitness.rs).
#
# Usage: scripts/i686-test.sh
# Environment:
#   DRVPROC_I686_TARGET_DIR  cargo target directory of the i686 build
#                            (default: target/i686; kept between runs as a cache)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TRIPLE=i686-unknown-linux-gnu
TARGET_DIR=${DRVPROC_I686_TARGET_DIR:-$ROOT/target/i686}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# gcc-multilib: the 32-bit C runtime and libgcc the linker needs for -m32.
# rustc-web/cargo-web/rust-web-src: a rustc that builds std from source
# (-Zbuild-std), as no i686 std is installed.
missing=()
dpkg -s gcc-multilib >/dev/null 2>&1 || missing+=(gcc-multilib)
[ -x /usr/bin/cargo ] || missing+=(cargo-web)
[ -x /usr/bin/rustc ] || missing+=(rustc-web)
[ -d /usr/lib/rustlib/src/rust/library ] || missing+=(rust-web-src)
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

echo "=== building drvproc-hostd and the trace driver for $TRIPLE"
i686_cargo() {
    (cd "$ROOT" && PATH=/usr/bin:$PATH RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
        CARGO_TARGET_DIR=$TARGET_DIR /usr/bin/cargo build -q -Zbuild-std=std,panic_abort \
        --target $TRIPLE "$@")
}
i686_cargo -p drvproc-host --bin drvproc-hostd
i686_cargo -p drvproc-trace --lib
OUT=$TARGET_DIR/$TRIPLE/debug
file_class=$(od -An -t u1 -j 4 -N 1 "$OUT/drvproc-hostd" | tr -d ' ')
[ "$file_class" = 1 ] || { echo "FAIL: $OUT/drvproc-hostd is not a 32-bit ELF file" >&2; exit 1; }

echo "=== the 64-bit manager hosting the 32-bit driver"
cd "$ROOT"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
DRVPROC_I686_DIR=$OUT cargo test -q -p drvproc-host --test isolation_bitness -- --nocapture >"$log" 2>&1 ||
    { cat "$log"; echo "FAIL: the bitness tests failed" >&2; exit 1; }
cat "$log"
if grep -q "DRVPROC_I686_DIR is not set" "$log"; then
    echo "FAIL: the tests did not see the i686 build" >&2
    exit 1
fi
echo "i686 bridge: ok"
