#!/usr/bin/env python3
"""Memory per VU and VU start rate (one instance per VU, Rust guest).

Starts `stampede target` on 127.0.0.1, then runs `stampede run` with N VUs that each GET / and then
sleep 1 s (plugins/rust-get with its param `sleep_ms`; with `--fixture`, tests/fixtures/fixture-basic
in mode `think` instead, the guest of the measurements before 2026-12-05 20:30 UTC: a larger module,
~5 KiB more per VU), for each N given. While each run is going, samples
VmRSS + VmPTE of the stampede process every 100 ms. Memory per VU is the difference of the plateaus
of two runs divided by the difference in VUs, so fixed costs (engine, code, runtime) cancel out.
The VU start rate is N divided by the time from the scenario start until `vus` reached N (from the
run's per-second series, so it is a lower bound at 1 s resolution).

Every run is bounded (DURATION seconds) and targets only 127.0.0.1.

With one instance per VU each VU needs 4 memory mappings (the capacity check counts 5), so more than
~12,300 VUs need a higher `vm.max_map_count` than Linux's default 65530 (Stampede refuses such a plan
up front with that advice).
`--raise-max-map-count` sets it to 1048576 first (root only; it is a system-wide setting, so the bench
does it only when asked and says so).

With `--shared`, the VUs run with `isolation = "shared"` (the same GET-then-sleep behaviour from
tests/fixtures/fixture-shared, 1,000 VUs per instance unless `--vus-per-instance N`). `--sleep-ms MS` changes the think time
(default 1000). With `--pause` the VUs think between iterations with the plan's `pause` (spent by the
host, outside the guest, like Locust's `wait_time`) instead of a `sleep` inside the guest's iteration
(rust-get without `sleep_ms`, or the fixture's mode `get` instead of `think`: the same GET). On a 2-core machine with the target on the same host, more than ~25,000 VUs that each
GET once a second saturate the target, and VUs then wait for responses instead of sleeping.
Requests in flight are capped with the plan's `max-connections` (default 2000, `--max-connections N`)
so that the open-file limit is never the bottleneck.

With `--python`, the guest is the Python component tests/fixtures/py-shared (a `stampede.SharedVu`; the
same GET-then-sleep, `await`ed; build it with scripts/build-guests.sh), with `--shared` or with one
instance (one interpreter) per VU, and without the 16 MiB memory cap per instance. With `--js`, the
guest is the JavaScript component tests/fixtures/js-shared (QuickJS, built with componentize-qjs for
the world `scenario-shared-futures` by scripts/build-guests.sh; the same GET-then-sleep), likewise.

`--https` runs the same over TLS: `stampede target --tls`, the plan's target `https://` with
`insecure-skip-tls-verify` (a handshake per new connection; with N >= `max-connections` about
`max-connections` connections are open, opened in the start burst, so the difference to a plain run at
the same N is their TLS state).

`--release-stack-after D` sets the plan's `release-stack-after` (default: the plan's default, 10s, so a
1 s sleep keeps its stack pages; `1s` gives them back at every sleep of the default 1 s; `off`).

usage: bench/memory.py [--raise-max-map-count] [--https] [--shared [--vus-per-instance N]] [--python | --js | --fixture] [--sleep-ms MS]
                       [--pause] [--max-connections N] [--release-stack-after D] [N1 N2 ...]
                       (default: 10000 50000)
"""
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from benchlib import BIN, ROOT, RUST_GET, status_kib, wait_http, warm

GUESTS = os.path.join(ROOT, "target/guest/wasm32-wasip2/release")
PORT = 18096
DURATION = 12


def write_plan(n, work, cfg, port=PORT):
    """The plan of a run with `n` VUs (see the module's doc for `cfg`), in `work`; its path and
    duration in seconds."""
    # Long enough for every VU to start (a few thousand per second) and then idle a while.
    duration = DURATION + n // (25000 if cfg["shared"] else 2500)
    if cfg["python"]:
        wasm = os.path.join(ROOT, "target/guest/python/py_shared.wasm")
    elif cfg["js"]:
        wasm = os.path.join(ROOT, "target/guest/js/js_shared.wasm")
    elif cfg["shared"]:
        wasm = os.path.join(GUESTS, "fixture_shared.wasm")
    elif cfg.get("fixture"):
        wasm = os.path.join(GUESTS, "fixture_basic.wasm")
    else:
        wasm = RUST_GET
    isolation = (f'isolation = "shared"\nvus-per-instance = {cfg["per_instance"]}'
                 if cfg["shared"] else "")
    # One instance per VU: a small memory cap per instance. Shared: the default cap per instance.
    memory = "" if cfg["shared"] or cfg["python"] or cfg["js"] else 'memory-limit = "16MiB"'
    mode, pause = (("get", f'pause = "{cfg["sleep_ms"]}ms"') if cfg["pause"] else ("think", ""))
    # rust-get sleeps in the guest only when given `sleep_ms` (the fixtures look at `mode`).
    sleep_ms = "" if cfg["pause"] else f'sleep_ms = "{cfg["sleep_ms"]}"'
    release = cfg.get("release_stack_after")
    release = f'release-stack-after = "{release}"' if release else ""
    scheme = "https" if cfg["https"] else "http"
    insecure = "insecure-skip-tls-verify = true" if cfg["https"] else ""
    plan = os.path.join(work, f"plan-{n}.toml")
    with open(plan, "w") as f:
        f.write(f"""component = "{wasm}"
targets = ["{scheme}://127.0.0.1:{port}"]
[params]
mode = "{mode}"
url = "{scheme}://127.0.0.1:{port}/"
{sleep_ms}
[options]
{insecure}
{memory}
{release}
max-connections = {cfg["max_connections"]}
[scenarios.idle]
executor = "constant-vus"
vus = {n}
duration = "{duration}s"
graceful-stop = "5s"
{isolation}
{pause}
""")
    return plan, duration


def run(n, work, cfg):
    plan, duration = write_plan(n, work, cfg)
    summary = os.path.join(work, f"summary-{n}.json")
    # stderr to a file, not a pipe: a pipe nobody reads during the run would block a chatty run.
    log = open(os.path.join(work, f"stderr-{n}.log"), "w+")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen([BIN, "run", plan, "--quiet", "--summary-json", summary],
                            stdout=subprocess.DEVNULL, stderr=log)
    began = time.monotonic()
    samples = []  # (seconds since start, VmRSS + VmPTE KiB)
    while proc.poll() is None:
        try:
            kib = status_kib(proc.pid, "VmRSS") + status_kib(proc.pid, "VmPTE")
        except (FileNotFoundError, ProcessLookupError):
            break
        samples.append((time.monotonic() - began, kib))
        time.sleep(0.1)
    proc.wait()
    # User + system CPU seconds of the whole run: the children reaped so far grew by this one (the
    # target, still running, is not counted).
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    log.seek(0)
    err = log.read()
    if proc.returncode != 0:
        sys.exit(f"stampede run with {n} VUs exited {proc.returncode}:\n{err}")
    s = json.load(open(summary))
    ready = next((p["t"] for p in s["timeseries"] if p["vus"] >= n), None)
    peak = max(k for _, k in samples)
    # Plateau: the median over the middle of the run, after every VU has started (and the start
    # burst of first requests is over) and before the VUs stop.
    settle = (ready or 0) + 3
    middle = sorted(k for t, k in samples if settle <= t <= duration - 1)
    plateau = middle[len(middle) // 2] if middle else peak
    return peak, plateau, ready, s["metrics"]["http_reqs"]["count"], cpu


def take_flag(args, name):
    if name in args:
        args.remove(name)
        return True
    return False


def take_string(args, name):
    if name in args:
        i = args.index(name)
        value = args[i + 1]
        del args[i:i + 2]
        return value
    return None


def take_value(args, name, default):
    value = take_string(args, name)
    return default if value is None else int(value)


def main():
    args = sys.argv[1:]
    cfg = {
        "shared": take_flag(args, "--shared"),
        "https": take_flag(args, "--https"),
        "python": take_flag(args, "--python"),
        "js": take_flag(args, "--js"),
        "pause": take_flag(args, "--pause"),
        "fixture": take_flag(args, "--fixture"),
        "sleep_ms": take_value(args, "--sleep-ms", 1000),
        "max_connections": take_value(args, "--max-connections", 2000),
        "per_instance": take_value(args, "--vus-per-instance", 1000),
        "release_stack_after": take_string(args, "--release-stack-after"),
    }
    if "--raise-max-map-count" in args:
        args.remove("--raise-max-map-count")
        with open("/proc/sys/vm/max_map_count") as f:
            current = int(f.read())
        if current < 1048576:
            print(f"raising vm.max_map_count from {current} to 1048576 (system-wide)")
            with open("/proc/sys/vm/max_map_count", "w") as f:
                f.write("1048576")
    ns = [int(a) for a in args] or [10000, 50000]
    # Each request in flight may hold a connection: let the children open enough files (root may raise
    # the hard limit).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(hard, 4 * cfg["max_connections"] + 1024)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        if hard < 2 * cfg["max_connections"]:
            print(f"warning: open file limit {hard} may be too low for {cfg['max_connections']} connections")
    target = subprocess.Popen([BIN, "target", "--listen", f"127.0.0.1:{PORT}"]
                              + (["--tls"] if cfg["https"] else []),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"{'https' if cfg['https'] else 'http'}://127.0.0.1:{PORT}/healthz")
        with tempfile.TemporaryDirectory() as work:
            # Compile (and cache) the component first: a run that compiles it keeps ~40 MiB of the
            # compiler's memory in its heap, which counted as its VUs' (the first run after a
            # build came out that much higher, 2026-12-06).
            warm(write_plan(ns[0], work, cfg)[0])
            results = [(n, *run(n, work, cfg)) for n in ns]
    finally:
        target.kill()
    mode = (f"shared isolation, {cfg['per_instance']:,} VUs per instance" if cfg["shared"]
            else "one instance per VU")
    think = "pause (plan, host-side)" if cfg["pause"] else "sleep (in the guest)"
    guest = ("Python guest, tests/fixtures/py-shared" if cfg["python"]
             else "JavaScript guest, tests/fixtures/js-shared" if cfg["js"]
             else "Rust guest, tests/fixtures/fixture-shared" if cfg["shared"]
             else "Rust guest, tests/fixtures/fixture-basic" if cfg["fixture"]
             else "Rust guest, plugins/rust-get")
    release = cfg["release_stack_after"] or "10s (default)"
    print(f"VUs that GET{' (https)' if cfg['https'] else ''} then {think} {cfg['sleep_ms']} ms, {mode} ({guest}), "
          f"max-connections {cfg['max_connections']}, release-stack-after {release}")
    print("RSS+PTE is VmRSS + VmPTE of the stampede process: the peak, and the plateau (median once")
    print("every VU runs and the start burst of first requests is over)")
    print("CPU is user + system seconds of the whole run (start, idle, stop), and per request (each")
    print("iteration is one GET and one think time)")
    print(f"{'VUs':>8}{'peak MiB':>10}{'plateau MiB':>13}{'all at':>9}{'start rate':>14}{'requests':>10}"
          f"{'CPU s':>8}{'CPU us/req':>12}")
    for n, peak, plateau, ready, reqs, cpu in results:
        rate = f"{n / ready:,.0f}/s" if ready else "-"
        at = (str(ready) + "s") if ready else "-"
        per = f"{cpu / reqs * 1e6:.0f}" if reqs else "-"
        print(f"{n:>8}{peak / 1024:>10.1f}{plateau / 1024:>13.1f}{at:>9}{'>= ' + rate:>14}{reqs:>10.0f}"
              f"{cpu:>8.2f}{per:>12}")
    for (n1, p1, q1, *_), (n2, p2, q2, *_) in zip(results, results[1:]):
        print(f"per VU between {n1} and {n2} VUs: {(q2 - q1) / (n2 - n1):.1f} KiB at the plateau, "
              f"{(p2 - p1) / (n2 - n1):.1f} KiB at the peak (VmRSS + VmPTE)")


if __name__ == "__main__":
    main()
