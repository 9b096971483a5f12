"""Shared pieces of the bench/ scripts: paths, CPU pinning, waiting for a server, /proc readings."""
import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Stampede and hyper-loop are measured as built with the `dist` profile (Cargo.toml: fat LTO, one
# codegen unit), the build for load generation: `cargo build --profile dist -p stampede -p hyper-loop`.
# STAMPEDE_PROFILE=release measures the test suite's build instead, STAMPEDE_PROFILE=pgo the `dist`
# build with profile-guided optimisation (scripts/build-pgo.sh: target/pgo/stampede; hyper-loop stays
# `dist`); STAMPEDE_BIN compares another build (for example one with other features) in the same
# script.
PROFILE = os.environ.get("STAMPEDE_PROFILE", "dist")
BIN = os.environ.get("STAMPEDE_BIN") or os.path.join(ROOT, "target", PROFILE, "stampede")
LOOP = os.path.join(ROOT, "target", "dist" if PROFILE == "pgo" else PROFILE, "hyper-loop")
if not os.path.exists(BIN):
    build = ("scripts/build-pgo.sh" if PROFILE == "pgo"
             else f"`cargo build --profile {PROFILE} -p stampede -p hyper-loop`")
    sys.exit(f"{BIN} is missing: build it with {build} (bench/http.sh and bench/instructions.sh do), "
             "or set STAMPEDE_PROFILE=release to measure the test build")
# The rust-get component (1 GET of the param `url` + 1 check per iteration); STAMPEDE_WASM compares
# another build of it.
RUST_GET = os.environ.get("STAMPEDE_WASM") or os.path.join(
    ROOT, "target/guest/wasm32-wasip2/release/rust_get.wasm")

# Target on CPU 0, generator on CPU 1, when taskset and 2+ CPUs are there.
PIN_TARGET, PIN_GEN = ([], [])
if shutil.which("taskset") and os.cpu_count() >= 2:
    PIN_TARGET, PIN_GEN = (["taskset", "-c", "0"], ["taskset", "-c", "1"])


def nginx_path():
    """Debian's nginx, or None when it is not installed."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    return nginx if os.path.exists(nginx) else None


def start_nginx(work, port, extra_headers=0, tls=False):
    """nginx (one worker, pinned like every target) in directory `work`, on 127.0.0.1:`port`,
    answering every GET with `ok\\n` and its 5 usual response headers plus `extra_headers` more
    (`x-extra-0: value-0`, ...); with `tls`, over https with a self-signed certificate made here
    with openssl, and HTTP/2 to clients that offer it (ALPN). The caller checks `nginx_path()` first and stops the process."""
    add = "".join(f"add_header x-extra-{i} value-{i}; " for i in range(extra_headers))
    listen = f"127.0.0.1:{port}"
    if tls:
        if not shutil.which("openssl"):
            sys.exit("nginx over https needs openssl (apt install openssl) for its certificate")
        key, cert = os.path.join(work, "nginx-key.pem"), os.path.join(work, "nginx-cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "1", "-subj", "/CN=127.0.0.1"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # HTTP/2 for clients that offer it (Stampede by default), HTTP/1.1 for the others (wrk).
        listen += f" ssl http2; ssl_certificate {cert}; ssl_certificate_key {key}"
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx.err;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {work}/body; proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fcgi; uwsgi_temp_path {work}/uwsgi; scgi_temp_path {work}/scgi;
    keepalive_requests 1000000;
    server {{
        listen {listen};
        location / {{ default_type text/plain; {add}return 200 "ok\\n"; }}
    }}
}}
""")
    return subprocess.Popen(PIN_TARGET + [nginx_path(), "-c", conf, "-p", work],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def rust_get_plan(path, origin, url, scenario):
    """Write a plan to `path` that runs rust-get against `origin` (its only target), GETting `url`;
    `scenario` is the TOML of its one scenario table (`[scenarios.NAME]` and its keys). Returns path."""
    with open(path, "w") as f:
        f.write(f"""component = "{RUST_GET}"
targets = ["{origin}"]
[params]
url = "{url}"
{scenario.strip()}
""")
    return path


def warm(plan):
    """Run `plan` for 1 s with 1 VU, so its component is compiled and cached before anything is
    measured."""
    subprocess.run([BIN, "run", plan, "--quiet", "--duration", "1s", "--vus", "1"], check=True,
                   stdout=subprocess.DEVNULL)


def wait_http(url):
    """Wait up to 10 s for url to answer (an https one with any certificate); exit the script if it
    does not."""
    unverified = ssl._create_unverified_context() if url.startswith("https") else None
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=1, context=unverified).read()
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
