#!/usr/bin/env bash
# Runs every benchmark and prints the performance targets (P1-P5, and the
# isolation targets ISO) as measured in this run, with the ratios; writes docs/open_close.svg (open+close cost against the
# number of open instances). Then counts instructions per operation with callgrind
# (scripts/callgrind.sh, N=$CALLGRIND_N, default 20000): figures that do not move
# with machine noise, to compare commit to commit beside the timed ratios. See
# BENCHMARKS.md for what each figure means.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== criterion: crates/drvproc-host/benches/manager.rs (P1, P2, P3, P5)" >&2
cargo bench -q -p drvproc-host --bench manager >"$out/manager.txt" 2>&1 || { cat "$out/manager.txt"; exit 1; }
echo "== crates/drvproc-host/benches/memory.rs (P4)" >&2
cargo bench -q -p drvproc-host --bench memory >"$out/memory.txt" 2>&1 || { cat "$out/memory.txt"; exit 1; }
echo "== crates/drvproc-capi/ctests/benches/capi.rs (P1 through the C ABI)" >&2
cargo bench -q -p drvproc-capi-tests --bench capi >"$out/capi.txt" 2>&1 || { cat "$out/capi.txt"; exit 1; }
echo "== crates/drvproc-host/benches/barrier.rs (the close that needs the process-wide barrier)" >&2
cargo bench -q -p drvproc-host --bench barrier >"$out/barrier.txt" 2>&1 || { cat "$out/barrier.txt"; exit 1; }
echo "== crates/drvproc-host/benches/isolation_manager.rs (ISO: isolated drivers through the manager)" >&2
cargo bench -q -p drvproc-host --bench isolation_manager >"$out/isolation.txt" 2>&1 || { cat "$out/isolation.txt"; exit 1; }
echo "== scripts/callgrind.sh (instructions per operation)" >&2
N=${CALLGRIND_N:-20000} scripts/callgrind.sh "$root" >"$out/callgrind.txt" 2>"$out/callgrind.log" \
    || { cat "$out/callgrind.log" "$out/callgrind.txt"; exit 1; }

mkdir -p docs
python3 - "$target/criterion" "$out/memory.txt" "$out/capi.txt" docs/open_close.svg "$out/callgrind.txt" "$out/barrier.txt" "$out/isolation.txt" <<'PY'
import json, math, os, re, sys

crit, memory, capi, svg_path, callgrind, barrier, isolation = sys.argv[1:8]

def ns(*parts):
    with open(os.path.join(crit, *parts, "new", "estimates.json")) as f:
        return json.load(f)["median"]["point_estimate"]

def grab(path, key):
    text = open(path).read()
    m = re.search(re.escape(key) + r"\s*([0-9.]+)", text)
    if not m:
        sys.exit(f"{key!r} missing from {path}:\n{text}")
    return float(m.group(1))

rows = []
def row(name, figure, target, ok):
    rows.append((name, figure, target, "MET" if ok else "NOT MET"))

direct, send = ns("send", "direct"), ns("send", "manager")
row("P1  Rust send / direct call", f"{send:.2f} / {direct:.2f} ns = {send/direct:.2f}x", "<= 2.0x", send / direct <= 2.0)
c_direct, c_send = grab(capi, "P1-C direct call:"), grab(capi, "P1-C SendDriverMessage:")
row("P1  C SendDriverMessage / direct", f"{c_send:.2f} / {c_direct:.2f} ns = {c_send/c_direct:.2f}x", "<= 2.0x", c_send / c_direct <= 2.0)
counts = [1, 10, 100, 1000, 10000, 100000]
oc = {n: ns("open_close", str(n)) for n in counts}
row("P2  open+close, module loaded", f"{oc[1]:.0f} ns", "<= 200 ns", oc[1] <= 200)
row("P2  open+close, 100k open / 1 open", f"{oc[100000]:.0f} / {oc[1]:.0f} ns = {oc[100000]/oc[1]:.2f}x", "<= 1.5x", oc[100000] / oc[1] <= 1.5)
for label, one_key, key in [
    ("one handle", "one_thread", "two_threads_one_handle"),
    ("two handles", "one_thread", "two_threads_two_handles"),
    ("SDK, two instances", "one_thread_sdk", "two_threads_two_sdk_instances"),
]:
    one, two = ns("threads", one_key), ns("threads", key)
    ratio = (2 / two) / (1 / one)
    row(f"P3  2 threads, {label} / 1 thread", f"{ratio:.2f}x ({two:.2f} ns per 2 sends vs {one:.2f} ns per send)", ">= 1.8x", ratio >= 1.8)
per = grab(memory, "P4 bytes per instance:")
closed = "P4 all closed and module unloaded: true" in open(memory).read()
row("P4  1M instances: bytes each", f"{per:.1f} B, all closed and unloaded: {closed}", "<= 64 B", per <= 64 and closed)
cold, dl = ns("cold", "open_close"), ns("cold", "dlopen_dlclose")
rows.append(("P5  cold open + last close", f"{cold/1000:.1f} us vs dlopen+dlclose {dl/1000:.1f} us: manager {max(cold-dl,0)/1000:.1f} us", "report", "-"))
b = open(barrier).read()
b2 = re.search(r"B2 close alone: (\d+) ns after a send .* vs (\d+) ns never sent to", b)
if not b2:
    sys.exit(f"B2 missing from {barrier}:\n{b}")
rows.append(("    close after a send (the barrier)", f"{b2.group(1)} ns vs {b2.group(2)} ns never sent to", "report", "-"))
b3 = re.search(r"B3 busy sender: .*\(([0-9.]+)% slower\), (\d+) barriers/s", b)
if b3:
    rows.append(("    busy sender while another thread closes", f"{b3.group(1)}% slower at {b3.group(2)} barriers/s", "report", "-"))

# Isolation (benches/isolation_manager.rs): a driver in a host process of its own.
iso = open(isolation).read()
def iso_find(pattern):
    m = re.search(pattern, iso)
    if not m:
        sys.exit(f"{pattern!r} missing from {isolation}:\n{iso}")
    return [float(g) for g in m.groups()]
local_rt = iso_find(r"M1 in process: median (\d+) ns, p99 (\d+) ns")
med, p99 = iso_find(r"M1 isolated, adaptive spin: median (\d+) ns, p99 (\d+) ns")
row("ISO send round trip (adaptive spin)", f"median {med/1000:.2f} us, p99 {p99/1000:.2f} us (in process {local_rt[0]:.0f} ns)", "<= 5 us median", med <= 5000)
med, p99 = iso_find(r"M1 isolated, spin 0: median (\d+) ns, p99 (\d+) ns")
rows.append(("ISO send round trip, spin 0", f"median {med/1000:.2f} us, p99 {p99/1000:.2f} us", "report", "-"))
hosted, local, ratio = iso_find(r"M2 64 KiB convert: isolated (\d+) ns vs in process (\d+) ns = ([0-9.]+)x")
row("ISO 64 KiB ACM convert (G.711 encode)", f"{hosted/1000:.1f} / {local/1000:.1f} us = {hosted/local:.2f}x", "<= 1.3x", hosted / local <= 1.3)
for what, key in [("ISO 64 KiB out (G.711 decode)", "out, decode"), ("ISO 64 KiB convert, spin 0", "convert, spin 0"),
                  ("ISO 64 KiB out, spin 0", "out, decode, spin 0")]:
    hosted, local, ratio = iso_find(r"M2 64 KiB " + key + r": isolated (\d+) ns vs in process (\d+) ns = ([0-9.]+)x")
    rows.append((what, f"{hosted/1000:.1f} / {local/1000:.1f} us = {hosted/local:.2f}x, {(hosted-local)/1000:.1f} us more", "report", "-"))
secs, app_ns, app_wake, host_ns, host_wake = iso_find(
    r"M3 idle (\d+) s: application's other threads (\d+) ns CPU, (\d+) wake-ups; host process (\d+) ns CPU, (\d+) wake-ups")
row(f"ISO idle module, {secs:.0f} s", f"host {host_ns:.0f} ns CPU, {host_wake:.0f} wake-ups; application {app_ns:.0f} ns, {app_wake:.0f} wake-ups",
    "no CPU, no wake-up", host_ns + app_ns + host_wake + app_wake == 0)

# Instructions per operation (scripts/callgrind.sh): the noise-free figures.
ir = {}
for line in open(callgrind):
    parts = line.split()
    if len(parts) == 2 and re.fullmatch(r"[0-9.]+", parts[1]):
        ir[parts[0]] = float(parts[1])
for key in ["direct", "send", "capi", "sdk", "open_close"]:
    if key not in ir:
        sys.exit(f"{key!r} missing from the callgrind figures:\n{open(callgrind).read()}")
over = ir["capi"] - ir["direct"]
row("P1  C send, instructions over a direct call", f"{ir['capi']:.0f} - {ir['direct']:.0f} = {over:.0f}", "<= 40", over <= 40)
sdk_over = ir["sdk"] - ir["send"]
row("P1-SDK SDK driver send - raw driver send", f"{ir['sdk']:.0f} - {ir['send']:.0f} = {sdk_over:.0f} instructions", "<= 15", sdk_over <= 15)

w = [max(len(r[i]) for r in rows + [("target", "figure", "goal", "result")]) for i in range(4)]
print(f"{'target':<{w[0]}}  {'figure':<{w[1]}}  {'goal':<{w[2]}}  result")
for r in rows:
    print(f"{r[0]:<{w[0]}}  {r[1]:<{w[1]}}  {r[2]:<{w[2]}}  {r[3]}")
print("open+close by instances already open: " + ", ".join(f"{n}: {oc[n]:.0f} ns" for n in counts))
print("instructions per operation (callgrind): " + ", ".join(f"{k} {v:.0f}" for k, v in ir.items()))

# The plot: log10(instances) against ns, with Wine's figures for reference.
wine = {1: 1745, 1000: 8672, 10000: 62382, 50000: 302136}
W, H, L, B, T, R = 660, 360, 70, 50, 30, 45
xmax, ymax = 5.0, math.log10(400000)
def X(n): return L + (W - L - R) * math.log10(max(n, 1)) / xmax
def Y(v): return H - B - (H - B - T) * math.log10(max(v, 1)) / ymax
parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W/2}" y="18" text-anchor="middle" font-size="13">open + close of one more instance, by instances already open</text>',
         f'<line x1="{L}" y1="{H-B}" x2="{W-R}" y2="{H-B}" stroke="black"/>',
         f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H-B}" stroke="black"/>']
for e in range(0, 6):
    parts.append(f'<text x="{X(10**e)}" y="{H-B+15}" text-anchor="middle">{10**e:,}</text>')
for v in [10, 100, 1000, 10000, 100000]:
    parts.append(f'<text x="{L-6}" y="{Y(v)+4}" text-anchor="end">{v:,} ns</text>')
    parts.append(f'<line x1="{L}" y1="{Y(v)}" x2="{W-R}" y2="{Y(v)}" stroke="#ddd"/>')
parts.append(f'<text x="{W/2}" y="{H-12}" text-anchor="middle">instances open (log scale)</text>')
for data, colour, name in [(oc, "#1f77b4", "drvproc"), (wine, "#d62728", "Wine 8.0 winmm (reference)")]:
    pts = " ".join(f"{X(n):.1f},{Y(v):.1f}" for n, v in sorted(data.items()))
    parts.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"/>')
    parts += [f'<circle cx="{X(n):.1f}" cy="{Y(v):.1f}" r="3" fill="{colour}"/>' for n, v in data.items()]
parts.append(f'<text x="{W-R-5}" y="{Y(oc[100000])-8:.1f}" text-anchor="end" fill="#1f77b4">drvproc</text>')
parts.append(f'<text x="{X(50000)-5:.1f}" y="{Y(wine[50000])+14:.1f}" text-anchor="end" fill="#d62728">Wine 8.0 (reference)</text>')
parts.append("</svg>")
open(svg_path, "w").write("\n".join(parts) + "\n")
print(f"plot: {svg_path}")
PY
