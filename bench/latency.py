#!/usr/bin/env python3
"""Latency honesty: at a fixed arrival rate, does Stampede report the latency a minimal client sees?

Starts `stampede target` pinned to CPU 0, then, pinned to CPU 1 and one after the other, runs for
DURATION seconds at RATE requests per second against /delay/1 (1 ms server-side delay, kept to
~0.1 ms by the target's own timer thread, so the result does not depend on timer phase):
- Stampede, constant-arrival-rate, the rust-get plugin (1 GET + 1 check per iteration),
- hyper-loop (bench/hyper-loop) in its open model (--rate),
and prints each one's p50/p90/p99 and Stampede's p50 relative to hyper-loop's. The target of the
issue is |stampede p50 / hyper-loop p50 - 1| <= 10 %. Load goes only to 127.0.0.1.

usage: bench/latency.py [RATE=5000] [DURATION=10]   (build first: bench/http.sh does, or
       cargo build --profile dist -p stampede -p hyper-loop && scripts/build-guests.sh)
"""
import json
import os
import subprocess
import sys
import tempfile

from benchlib import BIN, LOOP, PIN_GEN, PIN_TARGET, rust_get_plan, wait_http

PORT = 18094


def main():
    rate = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    secs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    origin = f"http://127.0.0.1:{PORT}"
    url = f"{origin}/delay/1"
    target = subprocess.Popen(PIN_TARGET + [BIN, "target", "--listen", f"127.0.0.1:{PORT}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"{origin}/healthz")
        with tempfile.TemporaryDirectory() as work:
            plan = rust_get_plan(os.path.join(work, "plan.toml"), origin, url, f"""
[scenarios.rate]
executor = "constant-arrival-rate"
rate = {rate}
duration = "{secs}s"
pre-allocated-vus = 200
max-vus = 400
""")
            subprocess.check_call([BIN, "run", plan, "--quiet", "--duration", "1s"], stdout=subprocess.DEVNULL)
            summary = os.path.join(work, "s.json")
            subprocess.check_call(PIN_GEN + [BIN, "run", plan, "--quiet", "--summary-json", summary],
                                  stdout=subprocess.DEVNULL)
            s = json.load(open(summary))
            d = s["metrics"]["http_req_duration"]
            dropped = s["metrics"].get("dropped_iterations", {}).get("count", 0)
            st = (s["metrics"]["http_reqs"]["count"], dropped, d["med"], d["p90"], d["p99"])
            out = subprocess.check_output(PIN_GEN + [LOOP, url, "--rate", str(rate), "--duration", str(secs),
                                                     "--connections", "400"])
            h = json.loads(out.decode().strip().splitlines()[-1])
            hl = (h["requests"], h["dropped"], h["p50_ms"], h["p90_ms"], h["p99_ms"])
    finally:
        target.kill()
    print(f"GET /delay/1 at {rate}/s for {secs}s, target on CPU 0, generator on CPU 1")
    print(f"{'tool':<12}{'requests':>10}{'dropped':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}")
    for name, row in (("stampede", st), ("hyper-loop", hl)):
        print(f"{name:<12}{row[0]:>10.0f}{row[1]:>9.0f}{row[2]:>9.3f}{row[3]:>9.3f}{row[4]:>9.3f}")
    print(f"stampede p50 / hyper-loop p50: {st[2] / hl[2]:.3f} ({(st[2] / hl[2] - 1) * 100:+.1f} %)")


if __name__ == "__main__":
    main()
