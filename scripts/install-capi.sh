#!/usr/bin/env bash
# Builds libdrvproc (release) and installs the library, the header and drvproc.pc
# under PREFIX (default /usr/local):
#   PREFIX/lib/libdrvproc.so, PREFIX/lib/libdrvproc.a, PREFIX/include/drvproc.h,
#   PREFIX/lib/pkgconfig/drvproc.pc
set -euo pipefail
prefix=${1:-/usr/local}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release -p drvproc-capi
target=${CARGO_TARGET_DIR:-$root/target}/release
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
install -d "$prefix/lib/pkgconfig" "$prefix/include"
install -m 0755 "$target/libdrvproc.so" "$prefix/lib/"
install -m 0644 "$target/libdrvproc.a" "$prefix/lib/"
install -m 0644 crates/drvproc-capi/include/drvproc.h "$prefix/include/"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" crates/drvproc-capi/drvproc.pc.in \
    > "$prefix/lib/pkgconfig/drvproc.pc"
echo "installed libdrvproc $version under $prefix"
echo "build C code with: cc app.c \$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs drvproc)"
