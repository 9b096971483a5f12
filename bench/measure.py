#!/usr/bin/env python3
"""Run a command and print one JSON line: exit code, wall seconds, CPU seconds (user+sys of the
command and its children) and peak RSS in KiB. The command's own stdout/stderr go to the files given.

The peak RSS comes from GNU time (`/usr/bin/time -f %M`, a small C parent) when installed: a child
forked from Python inherits Python's ~13 MiB high-water mark, which getrusage would report as the
command's. Without GNU time it falls back to getrusage and says so (`rss_from`).

usage: measure.py OUT_FILE ERR_FILE -- CMD [ARGS...]
"""
import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def main() -> int:
    out_path, err_path, sep, *cmd = sys.argv[1:]
    assert sep == "--", __doc__
    gnu_time = os.path.exists("/usr/bin/time")
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        full = ["/usr/bin/time", "-f", "%M", "-o", rss_file.name] + cmd if gnu_time else cmd
        start = time.monotonic()
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            code = subprocess.call(full, stdout=out, stderr=err)
        wall = time.monotonic() - start
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        rss = ru.ru_maxrss
        if gnu_time:
            lines = [l for l in rss_file.read().splitlines() if l.strip().isdigit()]
            rss = int(lines[-1]) if lines else rss
    print(json.dumps({"code": code, "wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "max_rss_kib": rss,
                      "rss_from": "gnu-time" if gnu_time else "getrusage"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
