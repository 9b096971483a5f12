#!/usr/bin/env python3
"""Where a request's time goes, by component: Stampede (the rust-get plugin, 1 GET + 1 check per
iteration, constant-vus) at each VU count given, and hyper-loop (bench/hyper-loop) with as many
connections as the first count, against `stampede target` on 127.0.0.1.

Each run is sampled with `perf record -e cpu-clock` (software sampling, so it works where a VM exposes
no hardware counters), the target pinned to CPU 0 and the generator to CPU 1 as in bench/http.sh.
Samples per symbol are divided by the run's requests and grouped by crate (Stampede lists its compiled
Wasm code for perf with STAMPEDE_PERFMAP=1); the table is nanoseconds of one core per request. The
split between Stampede's own code and the Wasm boundary (wasmtime and the guest's code) is the point:
see BENCHMARKS.md, "where a request's time goes, by component".

Needs `perf` (Debian's linux-perf) and permission to sample (root, or kernel.perf_event_paranoid <= 1).
Each run is bounded by DURATION and stops by itself; load goes only to 127.0.0.1.

usage: bench/profile.py [--duration SECONDS=8] [VUS ...=50]   (build first: cargo build --profile
       dist -p stampede -p hyper-loop; bash scripts/build-guests.sh)
"""
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile

from benchlib import BIN, LOOP, PIN_GEN, PIN_TARGET, RUST_GET, rust_get_plan, wait_http, warm

PORT = 18095

# First match wins: (test on a symbol, category). Kernel symbols are counted apart.
CATEGORIES = [
    (lambda s: s.startswith("wasm[") or "trampoline" in s, "guest code and trampolines"),
    (lambda s: "wasmtime" in s or "cranelift" in s, "wasmtime (calls, lowering, fibers)"),
    (lambda s: "stampede_metrics" in s or "hdrhistogram" in s, "metrics"),
    (lambda s: "tokio" in s, "tokio"),
    (lambda s: "stampede_runtime" in s or "stampede_worker" in s or "PollFn" in s
     or "Pin<P>" in s, "Stampede runtime and worker (with inlined futures)"),
    (lambda s: "mem" in s and any(w in s for w in ("move", "set", "cmp", "cpy")), "memcpy/memset"),
    (lambda s: "mi_" in s or "malloc" in s or "free" in s or "alloc" in s, "malloc"),
    (lambda s: "clock_gettime" in s or "vdso" in s or "Timespec" in s or "Instant" in s,
     "clock reads"),
    (lambda s: "hyper" in s or "httparse" in s or "http::" in s or "bytes::" in s,
     "hyper, httparse, http, bytes"),
]
ORDER = ["user space, total"] + [c for _, c in CATEGORIES] + ["other user space", "kernel"]


def category(kind, sym):
    if kind == "[k]":
        return "kernel"
    return next((c for test, c in CATEGORIES if test(sym)), "other user space")


def sampled(cmd, data, env=None, stdout=subprocess.DEVNULL):
    """Run cmd pinned to the generator CPU under perf; returns (share of its samples per category,
    CPU seconds sampled)."""
    subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-F", "4999", "-o", data, "--"]
                   + PIN_GEN + cmd, check=True, stdout=stdout, env=env)
    report = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "sym",
                             "--stdio", "--percent-limit", "0"],
                            check=True, capture_output=True, text=True).stdout
    shares, cpu_ns = collections.Counter(), 0
    for line in report.splitlines():
        if line.startswith("# Event count (approx.):"):
            # cpu-clock counts nanoseconds.
            cpu_ns = int(line.split(":")[1])
            continue
        parts = line.split()
        if len(parts) < 3 or not parts[0].endswith("%"):
            continue
        shares[category(parts[1], " ".join(parts[2:]))] += float(parts[0].rstrip("%")) / 100
    if not cpu_ns:
        sys.exit(f"perf report of {data} has no samples")
    return shares, cpu_ns / 1e9


def main():
    args = sys.argv[1:]
    secs = 8
    if args[:1] == ["--duration"]:
        secs, args = int(args[1]), args[2:]
    counts = [int(a) for a in args] or [50]
    if not shutil.which("perf"):
        sys.exit("perf is not installed: apt-get install linux-perf (Debian)")
    for path in (BIN, LOOP, RUST_GET):
        if not os.path.exists(path):
            sys.exit(f"{path} is missing: cargo build --profile dist -p stampede -p hyper-loop; "
                     "bash scripts/build-guests.sh")
    env = dict(os.environ, STAMPEDE_PERFMAP="1")
    columns = []
    with tempfile.TemporaryDirectory() as work:
        target = subprocess.Popen(PIN_TARGET + [BIN, "target", "--listen", f"127.0.0.1:{PORT}"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_http(f"http://127.0.0.1:{PORT}/")
            for vus in counts:
                origin = f"http://127.0.0.1:{PORT}"
                plan = rust_get_plan(os.path.join(work, f"plan-{vus}.toml"), origin, origin + "/",
                                     f"""
[scenarios.get]
executor = "constant-vus"
vus = {vus}
duration = "{secs}s"
""")
                # Fill the compile cache first, so compilation is not sampled.
                warm(plan)
                summary = os.path.join(work, "summary.json")
                shares, cpu = sampled([BIN, "run", plan, "--quiet", "--summary-json", summary],
                                      os.path.join(work, "perf.data"), env)
                with open(summary) as f:
                    s = json.load(f)
                columns.append((f"stampede, {vus} VUs", shares, cpu,
                                s["metrics"]["http_reqs"]["count"], s["run"]["duration_s"]))
            out = os.path.join(work, "loop.out")
            with open(out, "w") as f:
                shares, cpu = sampled([LOOP, f"http://127.0.0.1:{PORT}/", "--connections",
                                       str(counts[0]), "--duration", str(secs)],
                                      os.path.join(work, "perf.data"), stdout=f)
            loop = json.loads(open(out).read().strip().splitlines()[-1])
            columns.append((f"hyper-loop, {counts[0]} conns", shares, cpu, loop["requests"],
                            loop["seconds"]))
        finally:
            target.terminate()
            target.wait()

    print(f"GET http://127.0.0.1:{PORT}/ (stampede target), {secs}s each, generator pinned to one "
          "core; ns of CPU per request (perf cpu-clock samples)")
    print(f"{'':<52}" + "".join(f"{name:>22}" for name, *_ in columns))
    print(f"{'requests/s':<52}" + "".join(f"{n / d:>22.0f}" for *_, n, d in columns))
    for row in ORDER:
        cells = []
        for _, shares, cpu, n, _ in columns:
            per = lambda share: share * cpu / n * 1e9
            if row == "user space, total":
                value = per(sum(v for k, v in shares.items() if k != "kernel"))
            else:
                value = per(shares.get(row, 0.0))
            cells.append(f"{value:>22.0f}")
        print(f"{row:<52}" + "".join(cells))


if __name__ == "__main__":
    main()
