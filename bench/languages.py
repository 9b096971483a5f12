#!/usr/bin/env python3
"""Per language: component size, instantiation time per VU, constructor time and memory per VU.

For each example component (rust-shop, js-shop, python-shop, c-shop; build them first with
scripts/build-guests.sh), runs its own plan against `stampede target` on 127.0.0.1 twice, with
N1 and N2 constant VUs for a few seconds (think_ms = 1000, so VUs are mostly idle), and reports:
- size: the component file,
- instantiate: median time to instantiate one VU (store + instance from the pre-instantiated
  component), from the runtime's `stampede_runtime::vu_start` debug log,
- constructor: median time of the guest's VU constructor (which logs in and lists products: two
  HTTP requests),
- memory per VU: difference of the peak VmRSS (+ VmPTE) between the two runs / (N2 - N1).
The first run of each also warms the compile cache, so compilation is not measured.

usage: bench/languages.py [N1=10] [N2=100]
"""
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import BIN, ROOT, status_kib, wait_http

PORT = 18095
PLUGINS = [
    ("rust", "rust-shop", "target/guest/wasm32-wasip2/release/rust_shop.wasm"),
    ("js", "js-shop", "target/guest/js/js_shop.wasm"),
    ("python", "python-shop", "target/guest/python/python_shop.wasm"),
    ("c", "c-shop", "target/guest/c/c_shop.wasm"),
]


def run(plan, vus, secs):
    env = dict(os.environ, STAMPEDE_LOG="warn,stampede_runtime::vu_start=debug", NO_COLOR="1")
    proc = subprocess.Popen([BIN, "run", plan, "--quiet", "--vus", str(vus), "--duration", f"{secs}s"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    peak = 0
    while proc.poll() is None:
        try:
            peak = max(peak, status_kib(proc.pid, "VmRSS") + status_kib(proc.pid, "VmPTE"))
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(0.05)
    err = proc.stderr.read()
    if proc.returncode != 0:
        sys.exit(f"{plan} with {vus} VUs exited {proc.returncode}:\n{err[-3000:]}")
    inst = [int(m) for m in re.findall(r"instantiate_us=(\d+)", err)]
    ctor = [int(m) for m in re.findall(r"constructor_us=(\d+)", err)]
    return peak, inst, ctor


def main():
    n1 = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    n2 = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    origin = f"http://127.0.0.1:{PORT}"
    target = subprocess.Popen([BIN, "target", "--listen", f"127.0.0.1:{PORT}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        wait_http(f"{origin}/healthz")
        with tempfile.TemporaryDirectory() as work:
            for lang, plugin, wasm in PLUGINS:
                path = os.path.join(ROOT, wasm)
                if not os.path.exists(path):
                    print(f"{lang}: {wasm} not built, skipped")
                    continue
                text = open(os.path.join(ROOT, "plugins", plugin, "plan.toml")).read()
                text = re.sub(r'component = ".*"', f'component = "{path}"', text)
                text = text.replace("http://127.0.0.1:18080", origin).replace('think_ms = "100"', 'think_ms = "1000"')
                plan = os.path.join(work, f"{plugin}.toml")
                open(plan, "w").write(text)
                run(plan, 1, 1)  # compile cache
                p1, _, _ = run(plan, n1, 5)
                p2, inst, ctor = run(plan, n2, 5)
                rows.append((lang, os.path.getsize(path), statistics.median(inst), statistics.median(ctor),
                             (p2 - p1) / (n2 - n1), len(inst)))
    finally:
        target.kill()
    print(f"one instance per VU; medians over the {n2}-VU run's VU starts; memory from {n1} vs {n2} VUs")
    print(f"{'language':<10}{'size':>12}{'instantiate':>13}{'constructor':>13}{'KiB/VU':>10}{'starts':>8}")
    for lang, size, inst, ctor, kib, n in rows:
        print(f"{lang:<10}{size:>12,}{inst / 1000:>10.2f} ms{ctor / 1000:>10.2f} ms{kib:>10.0f}{n:>8}")


if __name__ == "__main__":
    main()
