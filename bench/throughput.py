#!/usr/bin/env python3
"""Throughput per generator core, side by side, in one invocation (called by bench/http.sh; not named
http.py, which would shadow the standard library's http package).

For each target (nginx from Debian's packages, one worker; and `stampede target`), each pinned to
CPU 0, runs on CPU 1, one after the other and each for DURATION seconds with CONNECTIONS connections:
- Stampede with the rust-get plugin (1 GET + 1 check per iteration, constant-vus = CONNECTIONS),
- wrk (Debian's package, 1 thread),
- hyper-loop (bench/hyper-loop: a minimal hyper-util client loop on one thread),
- Goose (crates.io; bench/goose-get, one GET per transaction, no wait time), when built (bench/http.sh
  builds it into target/goose),
- Locust (PyPI), FastHttpUser and HttpUser with no wait time, when `locust` is installed (bench/http.sh
  installs it into target/bench-venv; LOCUST=path overrides),
and prints requests/s, CPU seconds per 1,000 requests, p50/p99 and peak RSS of each, plus Stampede's
ratios to each reference. Load goes only to 127.0.0.1; every run stops by itself.

With `--https`, the same over TLS: nginx with `listen ... ssl http2` and a self-signed P-256
certificate (openssl), and `stampede target --tls`; only Stampede (with `insecure-skip-tls-verify`, so
both tools skip verification, which costs only at a handshake anyway) and wrk (OpenSSL) speak TLS
here. Both targets offer HTTP/2 and HTTP/1.1 (ALPN); wrk speaks HTTP/1.1 only, so the `stampede` row
runs with `http2 = false` (like for like), and a `stampede-h2` row with HTTP/2 (the default) follows.

usage: bench/throughput.py [--https] DURATION CONNECTIONS [ROUNDS=3]
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from benchlib import (BIN, LOOP, PIN_GEN, PIN_TARGET, ROOT, nginx_path, rust_get_plan, start_nginx,
                      wait_http, warm)

GOOSE = os.path.join(ROOT, "target/goose/release/goose-get")
LOCUST = os.environ.get("LOCUST") or next(
    (p for p in [os.path.join(ROOT, "target/bench-venv/bin/locust"), shutil.which("locust")]
     if p and os.path.exists(p)), None)
LOCUSTFILE = """from locust import FastHttpUser, HttpUser, constant, task


class Fast(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("/")


class Plain(HttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("/")
"""


def measure(cmd, out_path):
    """Run cmd through bench/measure.py (a fresh parent, so the peak RSS is this command's own);
    returns (wall, CPU seconds of the command and its children, peak RSS KiB)."""
    m = json.loads(subprocess.check_output(
        [sys.executable, os.path.join(ROOT, "bench/measure.py"), out_path, out_path + ".err", "--"] + cmd))
    if m["code"] != 0:
        sys.exit(f"{' '.join(cmd)} exited {m['code']}:\n{open(out_path).read()[-3000:]}"
                 f"{open(out_path + '.err').read()[-3000:]}")
    return m["wall"], m["cpu"], m["max_rss_kib"]


def ms(txt):
    """A wrk latency (`793.00us`, `1.20ms`, `2.00s`, `1.50m`) in milliseconds."""
    m = re.match(r"([\d.]+)(us|ms|s|m)$", txt)
    if m is None:
        sys.exit(f"unexpected wrk latency {txt!r}")
    v, unit = m.groups()
    return float(v) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def div(a, b):
    """a / b, or NaN (printed as `nan`) when a peer made no requests or reported none."""
    return a / b if b else float("nan")


def run_all(name, url, origin, secs, conns, rounds, work):
    """`rounds` rounds of every tool, interleaved (so a slow minute on a shared machine hits all of
    them alike); prints each tool's medians and Stampede's ratios from them."""
    per_round = [one_round(name, url, origin, secs, conns, work) for _ in range(rounds)]
    tools = [r[0] for r in per_round[0]]
    med = lambda xs: sorted(xs)[len(xs) // 2]
    rows = []
    for i, tool in enumerate(tools):
        runs = [r[i] for r in per_round]
        rows.append((tool, med([r[1] for r in runs]), med([r[2] for r in runs]),
                     med([div(r[3], r[1]) for r in runs]), med([r[4] for r in runs]),
                     med([r[5] for r in runs]), max(r[6] for r in runs)))

    print(f"\nGET {url} ({name}), {conns} connections, {secs}s each, generator pinned to one core, "
          f"medians of {rounds} interleaved rounds")
    print(f"{'tool':<12}{'requests':>10}{'req/s':>10}{'CPU s/1k req':>14}{'p50 ms':>9}{'p99 ms':>9}{'peak RSS MiB':>14}")
    for tool, n, rate, cpu_per, p50, p99, rss in rows:
        print(f"{tool:<12}{n:>10.0f}{rate:>10.0f}{cpu_per * 1000:>14.4f}{p50:>9.3f}{p99:>9.3f}{rss / 1024:>14.1f}")
    # Stampede's ratio to every reference (and, over TLS, HTTP/2's to wrk as well).
    pairs = [(0, j) for j in range(1, len(rows))]
    if "stampede-h2" in tools and "wrk" in tools:
        pairs.append((tools.index("stampede-h2"), tools.index("wrk")))
    for i, j in pairs:
        spread = [div(r[i][2], r[j][2]) for r in per_round]
        print(f"{tools[i]} / {tools[j]}: req/s {div(rows[i][2], rows[j][2]):.2f} (rounds: "
              f"{', '.join(f'{x:.2f}' for x in spread)}), CPU per request "
              f"{div(rows[i][3], rows[j][3]):.2f}")


def one_round(name, url, origin, secs, conns, work):
    """One run of each tool: rows of (tool, requests, req/s, CPU s, p50 ms, p99 ms, peak RSS KiB)."""
    rows = []
    https = url.startswith("https://")
    # Over TLS: HTTP/1.1 first (as wrk speaks it), then HTTP/2.
    for label, options in ([("stampede", "insecure-skip-tls-verify = true\nhttp2 = false\n"),
                            ("stampede-h2", "insecure-skip-tls-verify = true\n")]
                           if https else [("stampede", "")]):
        plan = rust_get_plan(os.path.join(work, f"plan-{name}-{label}.toml"), origin, url, f"""
[scenarios.get]
executor = "constant-vus"
vus = {conns}
duration = "{secs}s"
""" + (f"[options]\n{options}" if options else ""))
        # Warm the compile cache so compilation is not measured.
        warm(plan)
        summary = os.path.join(work, f"s-{name}.json")
        _, cpu, rss = measure(PIN_GEN + [BIN, "run", plan, "--quiet", "--summary-json", summary],
                              os.path.join(work, "s.out"))
        s = json.load(open(summary))
        assert s["metrics"]["checks"]["fails"] == 0, "checks failed during the benchmark"
        n = s["metrics"]["http_reqs"]["count"]
        d = s["metrics"]["http_req_duration"]
        rows.append((label, n, n / s["run"]["duration_s"], cpu, d["med"], d["p99"], rss))

    out = os.path.join(work, "w.out")
    _, cpu, rss = measure(PIN_GEN + ["wrk", "-t1", f"-c{conns}", f"-d{secs}s", "--latency", url], out)
    w = open(out).read()
    n = int(re.search(r"(\d+) requests in", w).group(1))
    rows.append(("wrk", n, float(re.search(r"Requests/sec:\s+([\d.]+)", w).group(1)), cpu,
                 ms(re.search(r"^\s+50%\s+(\S+)", w, re.M).group(1)),
                 ms(re.search(r"^\s+99%\s+(\S+)", w, re.M).group(1)), rss))

    if https:
        # hyper-loop, Goose and Locust are measured over plain HTTP only.
        return rows

    out = os.path.join(work, "h.out")
    _, cpu, rss = measure(PIN_GEN + [LOOP, url, "--connections", str(conns), "--duration", str(secs)], out)
    h = json.loads(open(out).read().strip().splitlines()[-1])
    rows.append(("hyper-loop", h["requests"], h["req_per_s"], cpu, h["p50_ms"], h["p99_ms"], rss))

    if os.path.exists(GOOSE):
        out = os.path.join(work, "g.out")
        _, cpu, rss = measure(PIN_GEN + [GOOSE, "--host", origin, "--users", str(conns),
                                         "--increase-rate", str(conns), "--run-time", f"{secs}s",
                                         "--quiet"], out)
        g = json.loads(open(out).read().strip().splitlines()[-1])
        rows.append(("goose", g["requests"], g["requests"] / g["seconds"], cpu, g["p50_ms"],
                     g["p99_ms"], rss))

    if LOCUST:
        locustfile = os.path.join(work, "locustfile.py")
        with open(locustfile, "w") as f:
            f.write(LOCUSTFILE)
        for user, label in [("Fast", "locust-fast"), ("Plain", "locust")]:
            csv = os.path.join(work, f"l-{user}")
            out = os.path.join(work, "l.out")
            _, cpu, rss = measure(PIN_GEN + [
                LOCUST, "-f", locustfile, user, "--headless", "-u", str(conns), "-r", str(conns),
                "-t", f"{secs}s", "--host", origin, "--csv", csv, "--only-summary",
                "--stop-timeout", "1", "--loglevel", "WARNING"], out)
            with open(csv + "_stats.csv") as f:
                agg = [r.split(",") for r in f.read().splitlines()]
            head, total = agg[0], next(r for r in agg if r[1] == "Aggregated")
            # Locust writes "N/A" for a percentile of no requests (a run that failed to send any).
            col = lambda name: (lambda v: float("nan") if v == "N/A" else float(v))(
                total[head.index(name)])
            rows.append((label, col("Request Count"), col("Requests/s"), cpu, col("50%"),
                         col("99%"), rss))

    return rows


def main():
    args = sys.argv[1:]
    https = "--https" in args
    args = [a for a in args if a != "--https"]
    secs, conns = int(args[0]), int(args[1])
    rounds = int(args[2]) if len(args) > 2 else 3
    scheme = "https" if https else "http"
    # Other ports over TLS, so a plain run's target left behind cannot answer for it.
    nginx_port, target_port = (18094, 18091) if https else (18093, 18090)
    with tempfile.TemporaryDirectory() as work:
        procs = []
        try:
            nginx = f"{scheme}://127.0.0.1:{nginx_port}"
            if nginx_path():
                procs.append(start_nginx(work, nginx_port, tls=https))
                wait_http(nginx + "/")
                run_all("nginx", nginx + "/", nginx, secs, conns, rounds, work)
            else:
                print("nginx not installed: skipping the nginx target")
            target = f"{scheme}://127.0.0.1:{target_port}"
            procs.append(subprocess.Popen(
                PIN_TARGET + [BIN, "target", "--listen", f"127.0.0.1:{target_port}"]
                + (["--tls"] if https else []),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_http(target + "/healthz")
            run_all("stampede target", target + "/", target, secs, conns, rounds, work)
        finally:
            for p in procs:
                p.terminate()
                p.wait()


if __name__ == "__main__":
    main()
