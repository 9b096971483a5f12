#!/usr/bin/env bash
# Throughput per generator core: Stampede (the rust-get plugin: 1 GET + 1 check per iteration) and
# wrk (Debian's package) against the same `stampede target`, in the same invocation.
#
# The target is pinned to CPU 0 and each generator to CPU 1 (taskset, when there are 2+ CPUs), so
# "requests per second" is per generator core. Load goes only to 127.0.0.1; each run is bounded by
# DURATION and stops by itself.
#
# usage: bench/http.sh [DURATION_SECONDS=10] [CONNECTIONS=50]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/lib.sh
secs="${1:-10}"
conns="${2:-50}"
port=18090
url="http://127.0.0.1:$port/"

command -v wrk >/dev/null || { echo "==> installing wrk"; apt-get install -y wrk >/dev/null; }
ensure_rust_target
cargo build --release -p stampede >/dev/null 2>&1 || cargo build --release -p stampede
bash scripts/build-guests.sh >/dev/null
bin="$root/target/release/stampede"

pin_target=(); pin_gen=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    pin_target=(taskset -c 0); pin_gen=(taskset -c 1)
fi

work="$(mktemp -d)"
"${pin_target[@]}" "$bin" target --listen "127.0.0.1:$port" 2>"$work/target.err" &
target_pid=$!
trap 'kill $target_pid 2>/dev/null || true; rm -rf "$work"' EXIT
wait_for_http "http://127.0.0.1:$port/healthz"

cat > "$work/plan.toml" <<PLAN
component = "$root/target/guest/wasm32-wasip2/release/rust_get.wasm"
targets = ["http://127.0.0.1:$port"]
[params]
url = "$url"
[scenarios.get]
executor = "constant-vus"
vus = $conns
duration = "${secs}s"
PLAN

# warm the compile cache so compilation is not measured
"$bin" run "$work/plan.toml" --quiet --duration 1s --vus 1 >/dev/null

stampede_m=$(python3 bench/measure.py "$work/s.out" "$work/s.err" -- \
    "${pin_gen[@]}" "$bin" run "$work/plan.toml" --quiet --summary-json "$work/s.json")
wrk_m=$(python3 bench/measure.py "$work/w.out" "$work/w.err" -- \
    "${pin_gen[@]}" wrk -t1 -c"$conns" -d"${secs}s" --latency "$url")

python3 - "$work" "$stampede_m" "$wrk_m" "$secs" "$conns" <<'PY'
import json, re, sys
work, sm, wm, secs, conns = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4], sys.argv[5]
s = json.load(open(f"{work}/s.json"))
s_reqs = s["metrics"]["http_reqs"]["count"]
s_rate = s_reqs / s["run"]["duration_s"]
d = s["metrics"]["http_req_duration"]
w = open(f"{work}/w.out").read()
w_reqs = int(re.search(r"(\d+) requests in", w).group(1))
w_rate = float(re.search(r"Requests/sec:\s+([\d.]+)", w).group(1))
def ms(txt):
    v, unit = re.match(r"([\d.]+)(us|ms|s)", txt).groups()
    return float(v) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
w_p50 = ms(re.search(r"50%\s+(\S+)", w).group(1)); w_p99 = ms(re.search(r"99%\s+(\S+)", w).group(1))
rows = [
    ("stampede", s_reqs, s_rate, sm["cpu"] / s_reqs * 1000, d["med"], d["p99"], sm["max_rss_kib"]),
    ("wrk", w_reqs, w_rate, wm["cpu"] / w_reqs * 1000, w_p50, w_p99, wm["max_rss_kib"]),
]
print(f"GET / on stampede target, {conns} connections/VUs, {secs}s, generator pinned to one core")
print(f"{'tool':<10}{'requests':>10}{'req/s':>10}{'CPU s/1k req':>14}{'p50 ms':>9}{'p99 ms':>9}{'peak RSS MiB':>14}")
for name, n, rate, cpu, p50, p99, rss in rows:
    print(f"{name:<10}{n:>10.0f}{rate:>10.0f}{cpu:>14.4f}{p50:>9.3f}{p99:>9.3f}{rss/1024:>14.1f}")
print(f"ratio stampede/wrk: req/s {s_rate / w_rate:.2f}, CPU per request {rows[0][3] / rows[1][3]:.2f}")
assert s["metrics"]["checks"]["fails"] == 0, "checks failed during the benchmark"
PY
