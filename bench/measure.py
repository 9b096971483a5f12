#!/usr/bin/env python3
"""Run a command and print one JSON line: wall seconds, CPU seconds (user+sys of the command and its
children) and peak RSS in KiB. The command's own stdout/stderr go to the files given.

usage: measure.py OUT_FILE ERR_FILE -- CMD [ARGS...]
"""
import json
import resource
import subprocess
import sys
import time


def main() -> int:
    out_path, err_path, sep, *cmd = sys.argv[1:]
    assert sep == "--", __doc__
    start = time.monotonic()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        code = subprocess.call(cmd, stdout=out, stderr=err)
    wall = time.monotonic() - start
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"code": code, "wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "max_rss_kib": ru.ru_maxrss}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
