"""Shared pieces of the bench/ scripts: paths, CPU pinning, waiting for a server, /proc readings."""
import os
import shutil
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# STAMPEDE_BIN compares another build (for example one with other features) in the same script.
BIN = os.environ.get("STAMPEDE_BIN") or os.path.join(ROOT, "target/release/stampede")
LOOP = os.path.join(ROOT, "target/release/hyper-loop")

# Target on CPU 0, generator on CPU 1, when taskset and 2+ CPUs are there.
PIN_TARGET, PIN_GEN = ([], [])
if shutil.which("taskset") and os.cpu_count() >= 2:
    PIN_TARGET, PIN_GEN = (["taskset", "-c", "0"], ["taskset", "-c", "1"])


def wait_http(url):
    """Wait up to 10 s for url to answer; exit the script if it does not."""
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{url} did not answer within 10 s")


def status_kib(pid, field):
    """A `kB` field of /proc/PID/status (VmRSS, VmPTE, ...), 0 when absent."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0
