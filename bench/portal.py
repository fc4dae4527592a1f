"""Splash throughput: the portal under its production server (gunicorn, as `digital-spaces
portal` starts it) next to openNDS's own built-in splash (NDS_SPLASH=1 in the harness),
both under `wrk -c200 -d10s --latency`. Prints name=value lines; never fails on timing.

    sudo .venv/bin/python bench/portal.py [--duration 10] [--connections 200] [--no-opennds]

The portal's request is a level-2 FAS splash (decrypt, sign the form state, fill the cached
page) and its events go through the real worker-to-node socket. The bench config raises the
per-client rate limit, since every wrk connection comes from 127.0.0.1. openNDS is measured
from inside the harness's client namespace, against the splash URL it redirects a phone to;
its slowness and dropped connections are counted, not treated as failure.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devices.config import parse_device_config
from devices.protocol import SigningKey
from portal.fas import FasClient, encode_query, hid_for_token
from portal.node import CONFIG_ENV, gunicorn_command, portal_config_of, socket_path, view_path
from portal.relay import EventRelay, write_snapshot
from tests.portal.conftest import portal_manifest

HARNESS = Path("/work/shared/tools/opennds-netns.sh")
FASKEY = "bench-faskey"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def parse_wrk(text: str) -> dict[str, float]:
    def number(pattern: str) -> float:
        match = re.search(pattern, text)
        return float(match.group(1)) if match else 0.0

    def millis(value: str, unit: str) -> float:
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]

    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text)) + int(
        number(r"Non-2xx or 3xx responses: (\d+)")
    )
    return {
        "rps": number(r"Requests/sec:\s+([\d.]+)"),
        "p99_ms": millis(*p99.groups()) if p99 else float("nan"),
        "errors": float(errors),
        "requests": number(r"(\d+) requests in"),
    }


def wrk(url: str, connections: int, duration_s: int, prefix: list[str] | None = None) -> str:
    threads = str(min(4, connections))
    # openNDS drops requests without a User-Agent (it logs the encoded UA at preauth), so
    # both servers get one, as every phone sends.
    command = [
        *(prefix or []),
        "wrk",
        "-H",
        "User-Agent: Mozilla/5.0",
        f"-c{connections}",
        f"-t{threads}",
        f"-d{duration_s}s",
        "--timeout",
        "5s",
        "--latency",
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + 60)
    return done.stdout + done.stderr


def bench_portal(connections: int, duration_s: int, workers: int, threads: int) -> dict[str, float]:
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
        server = subprocess.Popen(
            gunicorn_command(portal),
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
            figures = parse_wrk(wrk(url, connections, duration_s))
            print(f"portal_events_relayed={events['n']}")
            return figures
        finally:
            server.terminate()
            server.wait(timeout=15)
            relay.stop()


def bench_opennds(connections: int, duration_s: int) -> dict[str, float] | None:
    if os.geteuid() != 0 or not HARNESS.exists():
        print("opennds_skipped=needs root and the harness", file=sys.stderr)
        return None
    run_id = f"bench-{secrets.token_hex(4)}"
    env = {**os.environ, "DSNDS_ID": run_id, "NDS_SPLASH": "1", "DEBUGLEVEL": "0"}
    try:
        up = subprocess.run(
            [str(HARNESS), "up"], env=env, capture_output=True, text=True, timeout=90
        )
        if up.returncode != 0:
            print(f"opennds_skipped=harness up failed: {up.stderr[-300:]!r}", file=sys.stderr)
            return None
        values = dict(line.split("=", 1) for line in up.stdout.splitlines() if "=" in line)
        exec_client = [str(HARNESS), "--id", run_id, "exec", "client"]
        redirect = subprocess.run(
            [
                *exec_client,
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{redirect_url}",
                values["UPSTREAM_URL"],
            ],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
        if not redirect:
            print("opennds_skipped=no splash redirect", file=sys.stderr)
            return None
        return parse_wrk(wrk(redirect, connections, duration_s, prefix=exec_client))
    finally:
        subprocess.run([str(HARNESS), "down"], env=env, capture_output=True, timeout=60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--no-opennds", action="store_true")
    options = parser.parse_args()
    print(f"connections={options.connections}")
    print(f"duration_s={options.duration}")
    print(f"cpus={os.cpu_count()}")
    portal = bench_portal(options.connections, options.duration, options.workers, options.threads)
    print(f"portal_splash_rps={portal['rps']:.0f}")
    print(f"portal_splash_p99_ms={portal['p99_ms']:.1f}")
    print(f"portal_splash_errors={portal['errors']:.0f}")
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
