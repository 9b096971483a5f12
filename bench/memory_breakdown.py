#!/usr/bin/env python3
"""Where an idle VU's memory goes, one instance per VU: /proc/PID/smaps by kind of mapping.

Starts `stampede target` on 127.0.0.1, then runs `stampede run` twice, with N1 and N2 VUs that each
GET / and then sleep 1 s in the guest (bench/memory.py's guest: plugins/rust-get with `sleep_ms`, or
with `--fixture` tests/fixtures/fixture-basic in mode `think`; with `--pause`, the plan's `pause`
instead), and reads /proc/PID/smaps and VmPTE 8 s into each run (every VU has
started). Prints, per VU, the difference of the resident memory of each kind of mapping divided by
N2 - N1:

- host heap: the allocator's arenas (mimalloc reserves 1 GiB at a time; a heap with another
  allocator, `--features system-allocator`, is counted with the linear memories);
- fiber stacks: wasmtime's 768 KiB async stacks (the native stack of a VU's guest call), the
  anonymous mappings of exactly that size;
- guest linear memory: the other anonymous mappings (each instance's memory is a mapping of its own),
  and the pages of the compiled component's data image mapped into it (`.cwasm`);
- page tables: VmPTE.

Each run uses bench/memory.py's plan (bounded to 12-15 s), is stopped 8 s in, and targets only
127.0.0.1.

`--release-stack-after D` sets the plan's `release-stack-after` (as bench/memory.py).

usage: bench/memory_breakdown.py [--pause] [--fixture] [--release-stack-after D] [N1=2000 N2=6000]
"""
import collections
import os
import subprocess
import sys
import tempfile
import time

import memory
from benchlib import BIN, status_kib, wait_http, warm

PORT = 18097
# mimalloc reserves its arenas 1 GiB at a time.
ARENA = 1 << 30
# A fiber stack's accessible part (host/runtime/src/engine.rs, ASYNC_STACK; its guard page is a
# mapping of its own).
STACK = 768 << 10


def kind(perms, size, name):
    """What a mapping holds, from its permissions, size and file name."""
    if name.endswith(".cwasm"):
        return "guest data image (.cwasm pages)" if perms == "rw-p" else "compiled code (.cwasm)"
    if perms != "rw-p" or name:
        return "code and other files"
    if size % ARENA == 0:
        return "host heap (allocator arenas)"
    if size == STACK:
        return "wasmtime fiber stacks"
    return "guest linear memory (anonymous)"


def resident(pid):
    """Resident KiB per kind of mapping, plus the page tables."""
    kib = collections.Counter()
    current = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if not parts[0].endswith(":") and "-" in parts[0]:
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                current = kind(parts[1], hi - lo, parts[5] if len(parts) > 5 else "")
            elif parts[0] == "Rss:":
                kib[current] += int(parts[1])
    kib["page tables (VmPTE)"] = status_kib(pid, "VmPTE")
    return kib


FIXTURE = False


def write_plan(n, work, pause, release=None):
    """bench/memory.py's plan: one instance per VU, 1 s of think time, in the guest or `pause`."""
    cfg = {"shared": False, "pause": pause, "sleep_ms": 1000, "max_connections": 2000,
           "per_instance": 1, "python": False, "js": False, "https": False,
           "release_stack_after": release, "fixture": FIXTURE}
    return memory.write_plan(n, work, cfg, PORT)[0]


def run(n, work, pause, release):
    plan = write_plan(n, work, pause, release)
    proc = subprocess.Popen([BIN, "run", plan, "--quiet"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        time.sleep(8)
        if proc.poll() is not None:
            sys.exit(f"stampede run with {n} VUs ended early (exit {proc.returncode})")
        return resident(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def main():
    global FIXTURE
    args = sys.argv[1:]
    pause = memory.take_flag(args, "--pause")
    FIXTURE = memory.take_flag(args, "--fixture")
    release = memory.take_string(args, "--release-stack-after")
    ns = [int(a) for a in args] or [2000, 6000]
    if len(ns) != 2 or ns[1] <= ns[0]:
        sys.exit("usage: bench/memory_breakdown.py [--pause] [--fixture] [--release-stack-after D] "
                 "[N1 N2], N2 > N1")
    n1, n2 = ns
    target = subprocess.Popen([BIN, "target", "--listen", f"127.0.0.1:{PORT}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{PORT}/healthz")
        with tempfile.TemporaryDirectory() as work:
            # Compile (and cache) the component first, so neither run spends its first seconds
            # compiling while the other does not.
            warm(write_plan(n1, work, pause, release))
            a, b = run(n1, work, pause, release), run(n2, work, pause, release)
    finally:
        target.kill()
    think = "pause 1 s (plan)" if pause else "sleep 1 s (guest)"
    guest = "tests/fixtures/fixture-basic" if FIXTURE else "plugins/rust-get"
    print(f"one instance per VU ({guest}), GET then {think}, release-stack-after {release or '10s (default)'}; "
          f"resident KiB per VU between {n1} and {n2} VUs")
    total = 0.0
    for k in sorted(set(a) | set(b), key=lambda k: -(b[k] - a[k])):
        per_vu = (b[k] - a[k]) / (n2 - n1)
        total += per_vu
        if abs(per_vu) >= 0.05:
            print(f"  {k:<42}{per_vu:>7.1f}")
    print(f"  {'total':<42}{total:>7.1f}")


if __name__ == "__main__":
    main()
