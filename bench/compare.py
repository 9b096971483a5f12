#!/usr/bin/env python3
"""Requests per core of two or more builds of stampede, interleaved, in one invocation: for choosing
between builds (a profile, a flag, a change) where bench/http.sh's peers are not the question.

Each round runs every build in turn, then hyper-loop (bench/hyper-loop, the `dist` build;
STAMPEDE_PROFILE=release: the release build), each for
DURATION seconds with VUS VUs (constant-vus, the rust-get plugin: 1 GET + 1 check per iteration;
hyper-loop: as many connections), pinned to CPU 1, against `stampede target` (the first build's)
pinned to CPU 0, or nginx with --nginx. Prints every run (requests/s, user and system CPU per
request), then each build's median requests/s and its ratio to the first build and to the loop.
Interleaving makes a slow minute on a shared machine hit every build alike. Load goes only to
127.0.0.1; every run stops by itself.

usage: bench/compare.py [--nginx] [--duration S=5] [--vus N=50] [--rounds R=3] NAME=BINARY ...
example: bench/compare.py dist=target/dist/stampede pgo=target/pgo/stampede
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile

from benchlib import (LOOP, PIN_GEN, PIN_TARGET, PROFILE, nginx_path, rust_get_plan,
                      start_nginx, wait_http)


def timed(cmd, out):
    """Run cmd with stdout to `out`; returns (user s, system s) of it and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out, "w") as f:
        code = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT).returncode
    if code != 0:
        sys.exit(f"{' '.join(cmd)} exited {code}:\n{open(out).read()[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def run_build(binary, plan, work):
    """One measured run of a stampede build: (requests, requests/s, user s, system s)."""
    summary = os.path.join(work, "summary.json")
    user, system = timed(PIN_GEN + [binary, "run", plan, "--quiet", "--summary-json", summary],
                         os.path.join(work, "run.out"))
    s = json.load(open(summary))
    if s["metrics"]["checks"]["fails"]:
        sys.exit(f"{binary}: checks failed during the benchmark")
    n = s["metrics"]["http_reqs"]["count"]
    return n, n / s["run"]["duration_s"], user, system


def run_loop(url, args, work):
    out = os.path.join(work, "loop.out")
    user, system = timed(PIN_GEN + [LOOP, url, "--connections", str(args.vus), "--duration",
                                    str(args.duration)], out)
    h = json.loads(open(out).read().strip().splitlines()[-1])
    return h["requests"], h["req_per_s"], user, system


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nginx", action="store_true", help="measure against nginx, not stampede target")
    p.add_argument("--duration", type=int, default=5)
    p.add_argument("--vus", type=int, default=50)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("builds", nargs="+", metavar="NAME=BINARY")
    args = p.parse_args()
    builds = []
    for b in args.builds:
        name, sep, path = b.partition("=")
        if not sep or not os.access(path, os.X_OK):
            sys.exit(f"{b!r}: expected NAME=BINARY with an executable BINARY")
        builds.append((name, os.path.abspath(path)))
    if not os.access(LOOP, os.X_OK):
        sys.exit(f"{LOOP} is missing: cargo build --profile {PROFILE} -p hyper-loop")

    with tempfile.TemporaryDirectory() as work:
        if args.nginx:
            if not nginx_path():
                sys.exit("--nginx: nginx is not installed (Debian's package nginx)")
            port, label = 18093, "nginx"
            target = start_nginx(work, port)
        else:
            port, label = 18090, "stampede target"
            target = subprocess.Popen(PIN_TARGET + [builds[0][1], "target", "--listen", f"127.0.0.1:{port}"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        origin = f"http://127.0.0.1:{port}"
        try:
            wait_http(origin + "/")
            plan = rust_get_plan(os.path.join(work, "plan.toml"), origin, origin + "/", f"""
[scenarios.get]
executor = "constant-vus"
vus = {args.vus}
duration = "{args.duration}s"
""")
            for _, binary in builds:  # compile and cache the component, unmeasured
                subprocess.run([binary, "run", plan, "--quiet", "--duration", "1s", "--vus", "1"],
                               check=True, stdout=subprocess.DEVNULL)
            print(f"GET {origin}/ ({label}), {args.vus} VUs / connections, {args.duration}s each, "
                  f"generator pinned to one core, {args.rounds} interleaved rounds")
            rates = {name: [] for name, _ in builds + [("loop", LOOP)]}
            for _ in range(args.rounds):
                for name, binary in builds + [("loop", LOOP)]:
                    n, rate, user, system = (run_loop(origin + "/", args, work) if name == "loop"
                                             else run_build(binary, plan, work))
                    rates[name].append(rate)
                    print(f"{name:<10}{int(n):>9} req {rate:>9.0f}/s  cpu {(user + system) / n * 1e6:6.2f} "
                          f"us/req (user {user / n * 1e6:.2f})", flush=True)
        finally:
            target.terminate()
            target.wait()

    med = {name: sorted(r)[len(r) // 2] for name, r in rates.items()}
    first = builds[0][0]
    print(f"\nmedian requests/s, and ratio to {first} and to the loop")
    for name in rates:
        print(f"{name:<10}{med[name]:>9.0f}/s  x{med[name] / med[first]:.3f}  "
              f"x{med[name] / med['loop']:.3f} of the loop")


if __name__ == "__main__":
    main()
