#!/usr/bin/env python3
"""Instructions per request: Stampede and hyper-loop counted by valgrind's callgrind.

Wall-clock CPU time per request swings up to 2x within minutes on a shared VM, so two builds
compare only in many interleaved pairs (bench/http.sh). Instruction counts repeated to ~0.2 % for the
same binaries and inputs here, whatever else the machine did, and the user-space ratio tracks user
CPU time (Stampede's 58k vs hyper-loop's 29k per request, ~2x, as its user time per request). So
this is the measure for "did this change make a request cheaper", and for where the instructions
go. It counts user space only: the kernel's share (loopback TCP, epoll) is not in it.

Starts `stampede target` on 127.0.0.1 (not under valgrind), then runs under callgrind, each twice
(N1 and N2 requests, 50 connections/VUs):
- Stampede: the rust-get plugin (1 GET + 1 check per iteration), executor shared-iterations;
- hyper-loop (bench/hyper-loop) with --requests.
Per request = (instructions of the N2 run - those of the N1 run) / (N2 - N1), so start-up (loading
the cached component, creating VUs, the runtime) cancels out. Prints both, their ratio and, per
request, where Stampede's and hyper-loop's instructions go (by crate; wasmtime's perf map,
STAMPEDE_PERFMAP=1, tells the guest's compiled functions from wasmtime's trampolines).

Under valgrind a run is ~50x slower, while the epoch ticker thread still sleeps 10 ms of wall-clock
time between ticks, so a guest could be interrupted (and yield to tokio) more often per request than
at full speed. Counted on 2026-12-03: 0.09 interrupts per request under callgrind (valgrind runs one
thread at a time, and the ticker seldom gets its turn), against up to ~0.1 at full speed (50 VUs
each interrupted at most once per 10 ms tick, ~430 requests per tick).

With `--nginx-headers K`, the target is nginx (Debian's package; one worker) instead, answering
`ok\n` with its 5 usual response headers plus K more (`x-extra-0: value-0`, ...): how the cost per
request grows with the response's headers, for both tools. (Until world 0.2.0 Stampede handed every
header to the guest as two strings, each a call into the guest to allocate it: ~3,370 instructions
per header against hyper-loop's ~1,220. Now the headers go over as one string, and each costs
Stampede about what it costs hyper-loop.)

Each run is bounded (N requests, and a max-duration) and targets only 127.0.0.1.

With `--top N`, it also lists Stampede's N costliest functions per request (self cost).
STAMPEDE_BIN=path counts another build of Stampede, STAMPEDE_WASM=path another build of the rust-get
component (for before/after comparisons of the host or the guest). STAMPEDE_PLAN_OPTIONS='key = value'
adds those lines to the plan's `[options]` (for the cost of an option, e.g. `cookies = false`).
STAMPEDE_KEEP_CALLGRIND=dir copies Stampede's two callgrind outputs there (for `callgrind_annotate
--tree=caller`).

usage: bench/instructions.py [--nginx-headers K] [--top N] [N1=5000] [N2=25000]
       (bench/instructions.sh builds first)
"""
import bisect
import json
import os
import re
import subprocess
import sys
import shutil
import tempfile

from benchlib import BIN, LOOP, PIN_TARGET, nginx_path, rust_get_plan, start_nginx, wait_http

PORT = 18098
VUS = 50

# First match wins: (substring of callgrind's "file:function" name, category). Compiled code named
# by wasmtime's perf map is classified apart, in `category`.
CATEGORIES = [
    ("wasmtime", "wasmtime (calls, lowering, fibers)"),
    ("cranelift", "wasmtime (calls, lowering, fibers)"),
    ("tokio", "tokio"),
    ("hyper", "hyper + httparse"),
    ("httparse", "hyper + httparse"),
    ("/http-", "http crate"),
    ("mimalloc", "host malloc"),
    ("malloc", "host malloc"),
    ("memmove", "memcpy/memset/memcmp"),
    ("memcpy", "memcpy/memset/memcmp"),
    ("memset", "memcpy/memset/memcmp"),
    ("memcmp", "memcpy/memset/memcmp"),
    ("host/metrics", "stampede metrics"),
    ("hdrhistogram", "stampede metrics"),
    ("stampede_metrics", "stampede metrics"),
    ("host/runtime", "stampede runtime + worker"),
    ("host/worker", "stampede runtime + worker"),
    ("stampede_runtime", "stampede runtime + worker"),
    ("stampede_worker", "stampede runtime + worker"),
    ("library/", "Rust std/core (inlined into any of the above)"),
]
# Prefix of the names `self_costs` gives compiled code (from the perf map).
JIT = "jit:"


def category(name):
    if name.startswith(JIT):
        # wasmtime's own compiled code: trampolines between host and guest (`array_to_wasm`,
        # `wasm_to_array`, component lowering), builtins (`wasmtime_builtin_*`).
        wasmtime = ("trampoline", "wasmtime_builtin", "component-", "unnamed")
        if any(w in name for w in wasmtime):
            return "wasmtime (calls, lowering, fibers)"
        return "guest Wasm code"
    for needle, cat in CATEGORIES:
        if needle in name:
            return cat
    return "other"


def callgrind(cmd, out, env=None, before_start=None):
    """Run cmd under callgrind (`before_start(pid)` is called as it starts); its total instruction
    count and its standard output."""
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"] + cmd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if before_start:
        before_start(proc.pid)
    try:
        stdout, stderr = proc.communicate(timeout=900)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        sys.exit(f"{cmd[0]} under callgrind ran longer than 900 s; stopped")
    m = re.search(r"refs:\s+([\d,]+)", stderr)
    if proc.returncode != 0 or not m:
        sys.exit(f"{cmd[0]} under callgrind failed (exit {proc.returncode}):\n{stderr[-2000:]}")
    return int(m.group(1).replace(",", "")), stdout


def jit_names(path):
    """Start address, end, name of each function in a perf map (wasmtime's, of one process)."""
    spans = []
    if not os.path.exists(path):
        print(f"warning: no perf map {path}: compiled code is counted as `unnamed`", file=sys.stderr)
        return spans
    with open(path) as f:
        for line in f:
            start, size, name = line.rstrip("\n").split(" ", 2)
            spans.append((int(start, 16), int(start, 16) + int(size, 16), name))
    spans.sort()
    return spans


def self_costs(out, spans):
    """Instructions per function (self cost) of a callgrind output, JIT code named by spans."""
    text = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=100", out],
                          capture_output=True, text=True, check=True).stdout
    starts = [s[0] for s in spans]
    costs = {}
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*)", line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        name = m.group(2)
        jit = re.match(r"\?\?\?:0x([0-9a-f]+)", name)
        if jit:
            addr = int(jit.group(1), 16)
            i = bisect.bisect_right(starts, addr) - 1
            name = JIT + (spans[i][2] if i >= 0 and addr < spans[i][1] else "unnamed")
        costs[name] = costs.get(name, 0) + int(m.group(1).replace(",", ""))
    return costs


def per_function(runs, n1, n2):
    """Per request, by function: the difference of the two runs' self costs."""
    (a, spans_a), (b, spans_b) = runs
    ca, cb = self_costs(a, spans_a), self_costs(b, spans_b)
    return {name: (cb.get(name, 0) - ca.get(name, 0)) / (n2 - n1) for name in set(ca) | set(cb)}


def breakdown(functions):
    """Per request, by category."""
    cats = {}
    for name, v in functions.items():
        cat = category(name)
        cats[cat] = cats.get(cat, 0) + v
    return cats


def stampede_runs(work, n1, n2):
    counts, outs = {}, []
    env = dict(os.environ, STAMPEDE_PERFMAP="1")
    for n in (n1, n2):
        origin = f"http://127.0.0.1:{PORT}"
        plan = rust_get_plan(os.path.join(work, f"plan-{n}.toml"), origin, origin + "/", f"""
[scenarios.get]
executor = "shared-iterations"
vus = {VUS}
iterations = {n}
max-duration = "600s"
""" + (f"[options]\n{os.environ['STAMPEDE_PLAN_OPTIONS']}\n" if os.environ.get("STAMPEDE_PLAN_OPTIONS") else ""))
        if n == n1:
            # Fill the compile cache first, so neither counted run compiles: under valgrind (whose
            # CPU has other features, so its code is cached apart) but without counting, and with
            # the same environment.
            subprocess.run(["valgrind", "--tool=none", "--quiet", BIN, "run", plan, "--quiet"],
                           stdout=subprocess.DEVNULL, check=True, env=env)
        summary = os.path.join(work, f"summary-{n}.json")
        out = os.path.join(work, f"stampede-{n}.callgrind")
        # wasmtime writes /tmp/perf-PID.map (valgrind keeps the process id); it appends, so a stale
        # file of a reused id goes first.
        maps = []

        def fresh_map(pid):
            maps.append(f"/tmp/perf-{pid}.map")
            if os.path.exists(maps[0]):
                os.remove(maps[0])
        try:
            counts[n], _ = callgrind([BIN, "run", plan, "--quiet", "--summary-json", summary],
                                     out, env, fresh_map)
            spans = jit_names(maps[0])
        finally:
            if maps and os.path.exists(maps[0]):
                os.remove(maps[0])
        with open(summary) as f:
            s = json.load(f)
        reqs = s["metrics"]["http_reqs"]["count"]
        fails = s["metrics"]["checks"]["fails"]
        if reqs != n or fails:
            sys.exit(f"stampede run of {n} made {reqs} requests with {fails} failed checks")
        outs.append((out, spans))
    return counts, outs


def loop_runs(work, n1, n2):
    counts, outs = {}, []
    for n in (n1, n2):
        out = os.path.join(work, f"loop-{n}.callgrind")
        counts[n], stdout = callgrind([LOOP, f"http://127.0.0.1:{PORT}/", "--connections", str(VUS),
                                       "--requests", str(n), "--duration", "600"], out)
        r = json.loads(stdout)
        if r["requests"] != n or r["errors"]:
            sys.exit(f"hyper-loop run of {n} made {r['requests']} requests, {r['errors']} failed")
        outs.append((out, []))
    return counts, outs


def main():
    args = sys.argv[1:]
    extra_headers = None
    if "--nginx-headers" in args:
        i = args.index("--nginx-headers")
        extra_headers = int(args[i + 1])
        del args[i:i + 2]
    top = 0
    if "--top" in args:
        i = args.index("--top")
        top = int(args[i + 1])
        del args[i:i + 2]
    n1 = int(args[0]) if len(args) > 0 else 5000
    n2 = int(args[1]) if len(args) > 1 else 25000
    if n2 <= n1:
        sys.exit("N2 must be larger than N1")
    origin = f"http://127.0.0.1:{PORT}"
    nginx_dir = tempfile.TemporaryDirectory()
    if extra_headers is None:
        what = "stampede target"
        target = subprocess.Popen(PIN_TARGET + [BIN, "target", "--listen", f"127.0.0.1:{PORT}"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        if not nginx_path():
            sys.exit("--nginx-headers needs nginx (apt-get install nginx; bench/http.sh installs it)")
        what = f"nginx with {5 + extra_headers} response headers"
        target = start_nginx(nginx_dir.name, PORT, extra_headers)
    try:
        wait_http(f"{origin}/healthz")
        with tempfile.TemporaryDirectory() as work:
            s_counts, s_outs = stampede_runs(work, n1, n2)
            if os.environ.get("STAMPEDE_KEEP_CALLGRIND"):
                for out, _ in s_outs:
                    shutil.copy(out, os.environ["STAMPEDE_KEEP_CALLGRIND"])
            l_counts, l_outs = loop_runs(work, n1, n2)
            s_per = (s_counts[n2] - s_counts[n1]) / (n2 - n1)
            l_per = (l_counts[n2] - l_counts[n1]) / (n2 - n1)
            print(f"GET / on {what}, {VUS} VUs/connections, {n1} and {n2} requests "
                  "under callgrind (user-space instructions)")
            print(f"{'tool':<12}{'instr/request':>14}{'start-up Minstr':>17}")
            for tool, counts, per in (("stampede", s_counts, s_per),
                                      ("hyper-loop", l_counts, l_per)):
                startup = (counts[n1] - per * n1) / 1e6
                print(f"{tool:<12}{per:>14.0f}{startup:>17.1f}")
            print(f"ratio stampede/hyper-loop: instructions per request {s_per / l_per:.2f}")
            print()
            s_funcs = per_function(s_outs, n1, n2)
            s_cats = breakdown(s_funcs)
            l_cats = breakdown(per_function(l_outs, n1, n2))
            print(f"{'per request, by where':<48}{'stampede':>10}{'hyper-loop':>12}")
            for cat, v in sorted(s_cats.items(), key=lambda kv: -kv[1]):
                if abs(v) >= 50 or abs(l_cats.get(cat, 0)) >= 50:
                    print(f"{cat:<48}{v:>10.0f}{l_cats.get(cat, 0):>12.0f}")
            for cat, v in sorted(l_cats.items(), key=lambda kv: -kv[1]):
                if cat not in s_cats and abs(v) >= 50:
                    print(f"{cat:<48}{0:>10}{v:>12.0f}")
            if top:
                print()
                print(f"stampede's {top} costliest functions per request (self instructions)")
                for name, v in sorted(s_funcs.items(), key=lambda kv: -kv[1])[:top]:
                    print(f"{v:>8.0f}  {category(name):<36}  {name[:110]}")
    finally:
        target.terminate()
        target.wait()
        nginx_dir.cleanup()


if __name__ == "__main__":
    main()
