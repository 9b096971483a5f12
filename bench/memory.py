#!/usr/bin/env python3
"""Memory per VU and VU start rate (one instance per VU, Rust guest).

Starts `stampede target` on 127.0.0.1, then runs `stampede run` with N VUs that each GET / and then
sleep 1 s (fixture_basic, mode `think`), for each N given. While each run is going, samples
VmRSS + VmPTE of the stampede process every 100 ms. Memory per VU is the difference of the plateaus
of two runs divided by the difference in VUs, so fixed costs (engine, code, runtime) cancel out.
The VU start rate is N divided by the time from the scenario start until `vus` reached N (from the
run's per-second series, so it is a lower bound at 1 s resolution).

Every run is bounded (DURATION seconds) and targets only 127.0.0.1.

With one instance per VU each VU needs about 7 memory mappings, so more than ~8,700 VUs need a higher
`vm.max_map_count` than Linux's default 65530 (Stampede refuses such a plan up front with that advice).
`--raise-max-map-count` sets it to 1048576 first (root only; it is a system-wide setting, so the bench
does it only when asked and says so).

usage: bench/memory.py [--raise-max-map-count] [N1 N2 ...]   (default: 10000 50000)
"""
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from benchlib import BIN, ROOT, status_kib, wait_http

WASM = os.path.join(ROOT, "target/guest/wasm32-wasip2/release/fixture_basic.wasm")
PORT = 18096
DURATION = 12


def run(n, work):
    # Long enough for every VU to start (a few thousand per second) and then idle a while.
    duration = DURATION + n // 2500
    plan = os.path.join(work, f"plan-{n}.toml")
    with open(plan, "w") as f:
        f.write(f"""component = "{WASM}"
targets = ["http://127.0.0.1:{PORT}"]
[params]
mode = "think"
url = "http://127.0.0.1:{PORT}/"
sleep_ms = "1000"
[options]
memory-limit = "16MiB"
[scenarios.idle]
executor = "constant-vus"
vus = {n}
duration = "{duration}s"
graceful-stop = "5s"
""")
    summary = os.path.join(work, f"summary-{n}.json")
    proc = subprocess.Popen([BIN, "run", plan, "--quiet", "--summary-json", summary],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        try:
            peak = max(peak, status_kib(proc.pid, "VmRSS") + status_kib(proc.pid, "VmPTE"))
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(0.1)
    err = proc.stderr.read().decode()
    if proc.returncode != 0:
        sys.exit(f"stampede run with {n} VUs exited {proc.returncode}:\n{err}")
    s = json.load(open(summary))
    ready = next((p["t"] for p in s["timeseries"] if p["vus"] >= n), None)
    return peak, ready, s["metrics"]["http_reqs"]["count"]


def main():
    args = sys.argv[1:]
    if "--raise-max-map-count" in args:
        args.remove("--raise-max-map-count")
        with open("/proc/sys/vm/max_map_count") as f:
            current = int(f.read())
        if current < 1048576:
            print(f"raising vm.max_map_count from {current} to 1048576 (system-wide)")
            with open("/proc/sys/vm/max_map_count", "w") as f:
                f.write("1048576")
    ns = [int(a) for a in args] or [10000, 50000]
    # Each VU may hold a connection: let the children open enough files (root may raise the hard limit).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(hard, 4 * max(ns) + 1024)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        if hard < 2 * max(ns):
            print(f"warning: open file limit {hard} may be too low for {max(ns)} VUs")
    target = subprocess.Popen([BIN, "target", "--listen", f"127.0.0.1:{PORT}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{PORT}/healthz")
        with tempfile.TemporaryDirectory() as work:
            results = [(n, *run(n, work)) for n in ns]
    finally:
        target.kill()
    print(f"VUs that GET then sleep 1 s, one instance per VU (Rust guest), runs of {DURATION}s + 1s per 2,500 VUs")
    print(f"{'VUs':>8}{'RSS+PTE MiB':>14}{'all at':>9}{'start rate':>14}{'requests':>10}")
    for n, peak, ready, reqs in results:
        rate = f"{n / ready:,.0f}/s" if ready else "-"
        print(f"{n:>8}{peak / 1024:>14.1f}{(str(ready) + 's') if ready else '-':>9}{'>= ' + rate:>14}{reqs:>10.0f}")
    for (n1, p1, *_), (n2, p2, *_) in zip(results, results[1:]):
        print(f"per VU between {n1} and {n2} VUs: {(p2 - p1) / (n2 - n1):.1f} KiB (VmRSS + VmPTE)")


if __name__ == "__main__":
    main()
