"""Splash throughput: the portal under its production server (Granian, with the command
line `digital-spaces portal` starts it with) next to openNDS's own built-in splash
(NDS_SPLASH=1 in the harness), both under `wrk -c200 -d10s --latency`. Prints name=value
lines; never fails on timing.

    sudo .venv/bin/python bench/portal.py [--duration 10] [--connections 200] [--no-opennds]
    .venv/bin/python bench/portal.py --server gunicorn   # the server it replaced, to compare
    .venv/bin/python bench/portal.py --stages     # CPU-us per request by stage, in process

The portal's request is a level-2 FAS splash (decrypt, sign the form state, fill the cached
page) and its events go through the real worker-to-node socket. The bench config raises the
per-client rate limit, since every wrk connection comes from 127.0.0.1. openNDS is measured
from inside the harness's client namespace, against the splash URL it redirects a phone to;
its slowness and dropped connections are counted, not treated as failure.

Besides requests/s and latency it prints the CPU time the server (main process and
workers) and wrk spent per request, and the load average around the run: on a shared
machine those say whether a figure is the portal's limit or the machine's. wrk keeps
`connections` requests in flight, so by Little's law the mean latency is connections/rps
(`littles_law_mean_ms`): a p99 under 50 ms at 200 connections needs well over 4,000 req/s.
`portal_connections_served` (rps x wrk's mean latency) checks that: well below
`connections`, the server left connections waiting unaccepted (Granian's --backpressure
does that), so wrk's latencies leave out the wait and the p99 flatters.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil

from devices.config import parse_device_config
from devices.protocol import SigningKey
from portal.config import PortalConfig
from portal.fas import FasClient, encode_query, hid_for_token
from portal.node import CONFIG_ENV, portal_config_of, server_command, socket_path, view_path
from portal.relay import EventRelay, write_snapshot
from testkit.brokers import free_port
from testkit.opennds import SCRIPT as HARNESS
from testkit.opennds import HarnessUpFailed, netns_run
from testkit.portal import portal_manifest

SHOW_WRK = "--show-wrk" in sys.argv  # wrk's own report (latency distribution) on stderr
FASKEY = "bench-faskey"


def parse_wrk(text: str) -> dict[str, float]:
    def number(pattern: str) -> float:
        match = re.search(pattern, text)
        return float(match.group(1)) if match else 0.0

    def millis(value: str, unit: str) -> float:
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]

    def mean() -> float:
        found = re.search(r"^\s*Latency\s+([\d.]+)(us|ms|s|m)\s", text, re.M)
        return millis(*found.groups()) if found else float("nan")

    def percentile(label: str) -> float:
        found = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
        return millis(*found.groups()) if found else float("nan")

    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text)) + int(
        number(r"Non-2xx or 3xx responses: (\d+)")
    )
    return {
        "rps": number(r"Requests/sec:\s+([\d.]+)"),
        "mean_ms": mean(),
        "p50_ms": percentile("50"),
        "p90_ms": percentile("90"),
        "p99_ms": percentile("99"),
        "errors": float(errors),
        "requests": number(r"(\d+) requests in"),
    }


def wrk(url: str, connections: int, duration_s: int, prefix: list[str] | None = None) -> str:
    # openNDS drops requests without a User-Agent (it logs the encoded UA at preauth), so
    # both servers get one, as every phone sends. wrk's own default of 2 threads, as in
    # the command: more threads only take CPU from the server on a 2-core machine.
    command = [
        *(prefix or []),
        "wrk",
        "-H",
        "User-Agent: Mozilla/5.0",
        f"-c{connections}",
        f"-d{duration_s}s",
        "--timeout",
        "5s",
        "--latency",
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + 60)
    if SHOW_WRK:
        print(done.stdout + done.stderr, file=sys.stderr)
    return done.stdout + done.stderr


def gunicorn_command(portal: PortalConfig, worker_class: str) -> list[str]:
    """How the node ran the portal before Granian (#6), kept to compare against."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--worker-class",
        worker_class,
        "--workers",
        str(portal.workers),
        "--threads",
        str(portal.threads),
        "--bind",
        f"{portal.listen_host}:{portal.listen_port}",
        "--backlog",
        "2048",
        "--keep-alive",
        "5",
        "portal.wsgi:application()",
    ]


def bench_portal(
    connections: int,
    duration_s: int,
    workers: int,
    threads: int,
    pin_workers: bool,
    server_name: str,
    worker_class: str,
    extra: list[str],
) -> dict[str, float]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as tmp:
        raw: dict[str, dict[str, object]] = {
            "device": {"id": "portal-bench-01", "kind": "portal", "data_dir": f"{tmp}/data"},
            "mqtt": {"brokers": ["mqtt://127.0.0.1:1883"]},
            "cms": {
                "public_keys": [SigningKey.generate().public_key.to_text()],
                "asset_token": "t",
            },
            "portal": {
                "secret": secrets.token_hex(32),
                "faskey": FASKEY,
                "gateway": "recording",
                "fas_level": 2,
                "listen": f"127.0.0.1:{port}",
                "workers": workers,
                "threads": threads,
                "pin_workers": pin_workers,
                "rate_per_s": 1e9,
                "rate_burst": 1_000_000_000,
            },
        }
        lines = []
        for table, values in raw.items():
            lines.append(f"[{table}]")
            for key, value in values.items():
                if isinstance(value, list):
                    lines.append(f"{key} = [" + ", ".join(f'"{v}"' for v in value) + "]")
                elif isinstance(value, bool):
                    lines.append(f"{key} = {str(value).lower()}")
                elif isinstance(value, str):
                    lines.append(f'{key} = "{value}"')
                else:
                    lines.append(f"{key} = {value}")
        path = Path(tmp) / "portal.toml"
        path.write_text("\n".join(lines) + "\n")
        config = parse_device_config(raw, base_dir=Path(tmp))
        config.state_dir.mkdir(parents=True)
        write_snapshot(view_path(config), portal_manifest(), ())
        events = {"n": 0}
        lock = threading.Lock()

        def count(_: object) -> None:
            with lock:
                events["n"] += 1

        relay = EventRelay(socket_path(config), count, count)
        relay.start()
        portal = portal_config_of(config)
        if server_name == "gunicorn":
            command = gunicorn_command(portal, worker_class)
        else:
            command = server_command(portal)
        command[-1:-1] = extra  # before the app
        server = subprocess.Popen(
            command,
            env={**os.environ, CONFIG_ENV: str(path)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            client = FasClient(
                hid=hid_for_token("bench001"),
                client_ip="10.77.1.2",
                client_mac="02:00:00:00:00:01",
                gateway_address="10.77.1.1:2050",
                gateway_name="Cannington Leisureplex",
                origin_url="http://neverssl.com/",
            )
            query = encode_query(client, level=2, faskey=FASKEY, iv=secrets.token_hex(8))
            url = f"http://127.0.0.1:{port}/?{urllib.parse.urlencode(query)}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(url, timeout=2) as response:
                        body = response.read()
                    if b"Cannington" in body:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("portal did not start")
                time.sleep(0.2)
            print(f"portal_splash_bytes={len(body)}")
            children = psutil.Process(server.pid).children()
            processes = [psutil.Process(server.pid), *children]
            print(f"portal_server_processes={len(processes)}")
            # wrk's keep-alive connections stay with the worker that accepted them, so wrk
            # starts once every worker has built its app (it holds the nonce database open).
            nonces = str(config.state_dir / "portal-nonces.sqlite3")
            while not all(any(f.path == nonces for f in w.open_files()) for w in children):
                if time.monotonic() > deadline:
                    raise SystemExit("a worker did not start")
                time.sleep(0.1)
            split: list[int] = []

            def count_connections() -> None:
                time.sleep(duration_s / 2)
                for child in children:
                    held = child.net_connections("tcp")
                    split.append(sum(c.status == psutil.CONN_ESTABLISHED for c in held))

            sampler = threading.Thread(target=count_connections, daemon=True)
            sampler.start()

            def server_cpu_s() -> float:
                return sum(sum(p.cpu_times()[:2]) for p in processes)

            def wrk_cpu_s() -> float:
                used = resource.getrusage(resource.RUSAGE_CHILDREN)
                return used.ru_utime + used.ru_stime

            print(f"load_average_before={os.getloadavg()[0]:.2f}")
            server_before, wrk_before = server_cpu_s(), wrk_cpu_s()
            machine_before = machine_busy_s()
            figures = parse_wrk(wrk(url, connections, duration_s))
            server_used, wrk_used = server_cpu_s() - server_before, wrk_cpu_s() - wrk_before
            others_used = machine_busy_s() - machine_before - server_used - wrk_used
            print(f"load_average_after={os.getloadavg()[0]:.2f}")
            sampler.join()
            print(f"portal_worker_connections={','.join(map(str, split))}")
            requests = max(figures["requests"], 1.0)
            figures["server_cpu_us"] = server_used / requests * 1e6
            figures["wrk_cpu_us"] = wrk_used / requests * 1e6
            figures["cores_used"] = (server_used + wrk_used) / duration_s
            # CPU that other work on the machine took during the run: the disturbance.
            print(f"machine_other_cores_used={max(others_used, 0.0) / duration_s:.2f}")
            print(f"portal_events_relayed={events['n']}")
            return figures
        finally:
            server.terminate()
            server.wait(timeout=15)
            relay.stop()


def machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy (all but idle and I/O wait)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def bench_opennds(connections: int, duration_s: int) -> dict[str, float] | None:
    if os.geteuid() != 0 or not HARNESS.exists():
        print("opennds_skipped=needs root and the harness", file=sys.stderr)
        return None
    try:
        with netns_run(
            f"bench-{secrets.token_hex(4)}", {"NDS_SPLASH": "1", "DEBUGLEVEL": "0"}, up_timeout_s=90
        ) as run:
            exec_client = [str(HARNESS), "--id", run.run_id, "exec", "client"]
            probe = [*exec_client, "curl", "-s", "-o", "/dev/null", "-w", "%{redirect_url}"]
            redirect = ""
            # openNDS 9.10 can turn a new client's first request away (403, a SIGCHLD race
            # around its lease check, docs/wifi.md): probe again, as a phone does.
            for _ in range(3):
                redirect = subprocess.run(
                    [*probe, run.values["UPSTREAM_URL"]], capture_output=True, text=True, timeout=30
                ).stdout.strip()
                if redirect:
                    break
            if not redirect:
                print("opennds_skipped=no splash redirect", file=sys.stderr)
                return None
            return parse_wrk(wrk(redirect, connections, duration_s, prefix=exec_client))
    except HarnessUpFailed as failed:
        print(f"opennds_skipped=harness up failed: {failed.stderr[-300:]!r}", file=sys.stderr)
        return None


def cpu_us(call: Callable[[], object], rounds: int = 2000) -> float:
    """CPU time (not wall time, which other load on the machine inflates) per call, best
    of three runs after a warm-up."""
    for _ in range(200):
        call()
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for _ in range(rounds):
            call()
        best = min(best, (time.process_time() - start) / rounds * 1e6)
    return best


def print_stages() -> None:
    """CPU-us per splash request in one worker, whole and by stage, with the app built as
    the tests build it (recording gateway, in-memory recorder)."""
    import html

    from flask import Flask, Response
    from werkzeug.test import EnvironBuilder

    from portal.fas import parse_query
    from portal.fast_path import first_values
    from portal.pages import fill_parts
    from portal.privacy import client_hash, visitor_hash
    from portal.ratelimit import RateLimiter
    from portal.responses import security_headers
    from portal.signing import Signer
    from testkit.portal import FASKEY, make_portal, portal_config

    with tempfile.TemporaryDirectory(prefix="portal-stages-") as tmp:
        portal = make_portal(Path(tmp), portal_config(rate_per_s=1e9, rate_burst=10**9))
        secret = portal_config().secret

        def environ(query: dict[str, str]) -> dict[str, object]:
            return EnvironBuilder(
                path="/",
                query_string=urllib.parse.urlencode(query),
                headers=[("User-Agent", "Mozilla/5.0"), ("Accept-Language", "en-AU,en;q=0.9")],
                environ_base={"REMOTE_ADDR": "10.77.1.2"},
            ).get_environ()

        def served(app: Callable[..., Iterable[bytes]], env: dict[str, object]) -> None:
            b"".join(app(dict(env), lambda status, headers, exc_info=None: None))

        same = environ(portal.visitor().query())
        served(portal.app, same)
        # New visitors: openNDS's query built beforehand, so only the portal's work counts.
        fresh = iter([environ(portal.visitor().query()) for _ in range(200 + 3 * 500)])
        bare = Flask("bare")
        page = "x" * 6800

        @bare.get("/")
        def root() -> Response:
            return Response(page, content_type="text/html; charset=utf-8")

        bare_env = environ({})
        query = portal.visitor().query()
        client = parse_query(query, level=2, faskey=FASKEY)
        signer = Signer(secret)
        now = portal.clock.now()
        state: dict[str, str | int] = {"h": client.hid, "m": client.client_mac, "t": 1, "x": "n"}
        cached = portal.app.extensions["portal"]["cache"]
        splash = cached.page(cached.view(1, now), "en", lambda view, code: None)
        limiter = RateLimiter(1e9, 10**9)
        qs = urllib.parse.urlencode(query)
        stages = {
            "splash_same_query": lambda: served(portal.app, same),
            "splash_new_visitor": lambda: served(portal.app, next(fresh)),
            "flask_bare_route": lambda: served(bare, bare_env),
            "query_string_parse": lambda: first_values(qs),
            "fas_decrypt_level2_uncached": lambda: parse_query(query, level=2, faskey=FASKEY),
            "mac_hashes_uncached": lambda: (
                client_hash(secret, client.client_mac, now),
                visitor_hash(secret, client.client_mac, now),
            ),
            "sign_form_state": lambda: signer.sign("accept", state),
            "template_fill": lambda: fill_parts(
                splash.parts, state="s" * 400, query=qs, client="c" * 32, tags={"x": "t" * 22}
            ),
            "html_escape_state": lambda: html.escape("s" * 400),
            "security_headers_uncached": lambda: security_headers.__wrapped__(
                ("http://10.77.1.1:2050", "http://neverssl.com"), "'sha256-x'"
            ),
            "rate_limiter": lambda: limiter.allow("10.77.1.2", time.monotonic()),
        }
        for name, call in stages.items():
            rounds = 500 if name == "splash_new_visitor" else 2000
            print(f"stage_{name}_cpu_us={cpu_us(call, rounds):.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="Python threads per worker")
    parser.add_argument("--no-pin", action="store_true", help="portal.pin_workers = false")
    parser.add_argument(
        "--server",
        choices=("granian", "gunicorn"),
        default="granian",
        help="granian: as the node runs it; gunicorn: what it replaced",
    )
    parser.add_argument("--worker-class", default="gthread", help="gunicorn's: gthread, sync")
    parser.add_argument(
        "--server-arg",
        action="append",
        default=[],
        help="added to the server's command line, e.g. --server-arg=--runtime-mode=st",
    )
    parser.add_argument("--no-opennds", action="store_true")
    parser.add_argument("--show-wrk", action="store_true", help="wrk's report on stderr")
    parser.add_argument("--stages", action="store_true", help="profile one worker in process")
    options = parser.parse_args()
    print(f"cpus={os.cpu_count()}")
    if options.stages:
        print_stages()
        return 0
    print(f"connections={options.connections}")
    print(f"duration_s={options.duration}")
    print(f"workers={options.workers}")
    print(f"threads={options.threads}")
    # gunicorn as the node ran it, unpinned.
    pin = not options.no_pin and options.server == "granian"
    print(f"pin_workers={str(pin).lower()}")
    print(f"server={options.server}")
    if options.server == "gunicorn":
        print(f"worker_class={options.worker_class}")
    print(f"server_args={' '.join(options.server_arg)}")
    portal = bench_portal(
        options.connections,
        options.duration,
        options.workers,
        options.threads,
        pin,
        options.server,
        options.worker_class,
        options.server_arg,
    )
    print(f"portal_splash_rps={portal['rps']:.0f}")
    print(f"portal_splash_mean_ms={portal['mean_ms']:.1f}")
    print(f"portal_splash_p50_ms={portal['p50_ms']:.1f}")
    print(f"portal_splash_p90_ms={portal['p90_ms']:.1f}")
    print(f"portal_splash_p99_ms={portal['p99_ms']:.1f}")
    print(f"portal_splash_errors={portal['errors']:.0f}")
    print(f"portal_server_cpu_us_per_request={portal['server_cpu_us']:.0f}")
    print(f"portal_wrk_cpu_us_per_request={portal['wrk_cpu_us']:.0f}")
    print(f"portal_cores_used={portal['cores_used']:.2f}")
    rps = max(portal["rps"], 1.0)
    print(f"littles_law_mean_ms={options.connections / rps * 1000:.1f}")
    print(f"portal_connections_served={portal['rps'] * portal['mean_ms'] / 1000:.0f}")
    if not options.no_opennds:
        nds = bench_opennds(options.connections, options.duration)
        if nds is not None:
            print(f"opennds_splash_rps={nds['rps']:.1f}")
            print(f"opennds_splash_p99_ms={nds['p99_ms']:.1f}")
            print(f"opennds_splash_errors={nds['errors']:.0f}")
            print(f"opennds_splash_requests={nds['requests']:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
