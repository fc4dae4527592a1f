"""50 visitors accept the terms at once, through the real openNDS (issue 16).

    sudo .venv/bin/python bench/portal_join.py [--clients 50] [--workers 2] [--threads 8]

N client namespaces (bench/join_client.py in each) are joined to the harness gateway's
bridge (/work/shared/tools/opennds-netns.sh builds one client; the rest are built here
with ip netns and veth and entered in openNDS's lease file). Each is captured and loads
the splash; then all tap at once, and each measures from the tap to the upstream
answering (polled on the upstream's second port, which openNDS refuses, not captures,
until the phone is online). First through the portal (Granian as the node runs it, FAS level 1, the
admission queue and openNDS's control socket), then through openNDS's own click-through
splash (NDS_SPLASH=1) with the same client namespaces. Prints name=value lines; never
fails on timing.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devices.config import parse_device_config
from devices.protocol import EventData, SigningKey, TermsAcceptedData
from portal.node import CONFIG_ENV, portal_config_of, server_command, socket_path, view_path
from portal.relay import EventRelay, write_snapshot
from testkit.opennds import SCRIPT as HARNESS
from testkit.opennds import HarnessUpFailed, netns_run
from testkit.portal import portal_manifest

CLIENT = Path(__file__).with_name("join_client.py")
FASKEY = "bench-join-faskey"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ip(*argv: str) -> str:
    return subprocess.run(["ip", *argv], check=True, capture_output=True, text=True).stdout


@contextmanager
def harness(**settings: str) -> Iterator[dict[str, str]]:
    settings = {"DEBUGLEVEL": "0", "CHECKINTERVAL": "5", **settings}
    try:
        with netns_run(f"join-{secrets.token_hex(3)}", settings) as run:
            yield run.values
            if not run.is_up():  # openNDS fell over during the run: say how
                log_tail = run.opennds_log_tail()
                print("opennds_died=1 " + " | ".join(log_tail)[-600:], file=sys.stderr)
    except HarnessUpFailed as failed:
        raise SystemExit(f"harness up failed: {failed.stderr[-800:]}") from None


class Clients:
    """N namespaces of our own, each a phone with one veth into a gateway's bridge."""

    def __init__(self, count: int) -> None:
        self.names = [f"dsj-{secrets.token_hex(2)}-{i}" for i in range(count)]
        for name in self.names:
            ip("netns", "add", name)
            ip("-n", name, "link", "set", "lo", "up")
            subprocess.run(
                ["ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"],
                check=True,
            )

    def attach(self, values: dict[str, str]) -> None:
        """Link every phone to this gateway and enter it in openNDS's lease file."""
        gw, net = values["GW_NS"], values["GW_LAN_IP"].rsplit(".", 1)[0]
        leases = []
        for index, name in enumerate(self.names):
            address = f"{net}.{10 + index}"
            ip(
                "-n",
                gw,
                "link",
                "add",
                f"j{index}",
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                name,
            )
            ip("-n", gw, "link", "set", f"j{index}", "master", "br-lan", "up")
            ip("-n", name, "addr", "add", f"{address}/24", "dev", "eth0")
            ip("-n", name, "link", "set", "eth0", "up")
            ip("-n", name, "route", "add", "default", "via", values["GW_LAN_IP"])
            mac = subprocess.run(
                ["ip", "netns", "exec", name, "cat", "/sys/class/net/eth0/address"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            leases.append(f"0 {mac} {address} phone-{index} *\n")
        with open(values["DHCP_LEASES"], "a", encoding="ascii") as handle:
            handle.writelines(leases)

    def join(self, values: dict[str, str], mode: str) -> list[dict[str, object]]:
        """Every phone captured and on the splash, then all tap at once."""
        upstream = values["UPSTREAM_URL"]
        probe = f"http://{values['UP_IP']}:{values['UPSTREAM_PORTS'].split(',')[1]}/"
        phones = [
            subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    name,
                    "/usr/bin/python3",
                    str(CLIENT),
                    mode,
                    upstream,
                    probe,
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name in self.names
        ]
        try:
            for phone in phones:
                assert phone.stdout is not None
                line = phone.stdout.readline()
                if line.strip() != "ready":
                    error = phone.stderr.read()[-400:] if phone.stderr else ""
                    raise SystemExit(f"a phone was not ready: {line!r} {error}")
            for phone in phones:
                assert phone.stdin is not None
                phone.stdin.write("tap\n")
                phone.stdin.flush()
            results = []
            for phone in phones:
                out, err = phone.communicate(timeout=90)
                lines = out.strip().splitlines()
                if err.strip():
                    print(f"phone: {err.strip()[-300:]}", file=sys.stderr)
                if lines:
                    results.append(json.loads(lines[-1]))
                else:
                    print(f"a phone failed: {err[-300:]!r}", file=sys.stderr)
                    results.append({"online": False, "join_s": None, "busy": 0})
            return results
        finally:
            for phone in phones:
                if phone.poll() is None:
                    phone.kill()  # ours, by PID

    def delete(self) -> None:
        for name in self.names:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def report(prefix: str, results: list[dict[str, object]]) -> None:
    times = [float(str(r["join_s"])) for r in results if r["online"]]
    print(f"{prefix}_clients={len(results)}")
    print(f"{prefix}_online={len(times)}")
    print(f"{prefix}_p50_s={percentile(times, 0.5):.3f}")
    print(f"{prefix}_p95_s={percentile(times, 0.95):.3f}")
    print(f"{prefix}_max_s={max(times, default=float('nan')):.3f}")


def run_portal(clients: Clients, workers: int, threads: int) -> None:
    port = free_port()
    with (
        tempfile.TemporaryDirectory(prefix="portal-join-") as tmp,
        harness(FAS_SECURE="1", FAS_KEY=FASKEY, FAS_RELAY="1", FAS_RELAY_PORT=str(port)) as values,
    ):
        clients.attach(values)
        sock = Path(values["RUN_DIR"]) / "tmp" / "ndsctl.sock"
        text = f"""[device]
id = "portal-join-01"
kind = "portal"
data_dir = "{tmp}/data"
[mqtt]
brokers = ["mqtt://127.0.0.1:1883"]
[cms]
public_keys = ["{SigningKey.generate().public_key.to_text()}"]
asset_token = "t"
[portal]
secret = "{secrets.token_hex(32)}"
faskey = "{FASKEY}"
gateway = "opennds"
fas_level = 1
listen = "127.0.0.1:{port}"
workers = {workers}
threads = {threads}
pin_workers = false
rate_per_s = 1e9
rate_burst = 1000000000
ndsctl_socket = "{sock}"
"""
        import tomllib

        path = Path(tmp) / "portal.toml"
        path.write_text(text)
        config = parse_device_config(tomllib.loads(text), base_dir=Path(tmp))
        config.state_dir.mkdir(parents=True)
        write_snapshot(view_path(config), portal_manifest(), ())
        waits: list[float] = []
        lock = threading.Lock()

        def record(data: EventData) -> None:
            if isinstance(data, TermsAcceptedData) and data.authorise_wait_s is not None:
                with lock:
                    waits.append(data.authorise_wait_s)

        relay = EventRelay(socket_path(config), record, lambda _signup: None)
        relay.start()
        log_path = Path(tmp) / "portal.log"
        server = subprocess.Popen(
            server_command(portal_config_of(config)),
            env={**os.environ, CONFIG_ENV: str(path)},
            stdout=subprocess.DEVNULL,
            stderr=log_path.open("wb"),
        )
        try:
            wait_for_port(port)
            results = clients.join(values, "portal")
            report("join", results)
            print(f"join_busy_retries={sum(int(r['busy']) for r in results)}")  # type: ignore[call-overload]
            deadline = time.monotonic() + 5
            while len(waits) < len(results) and time.monotonic() < deadline:
                time.sleep(0.05)  # events arrive over the relay socket after the answers
            print(f"auth_wait_p95_s={percentile(waits, 0.95):.3f}")
            print(f"auth_wait_max_s={max(waits, default=float('nan')):.3f}")
        finally:
            server.terminate()  # ours, by PID
            server.wait(timeout=15)
            relay.stop()
            for line in log_path.read_text(errors="replace").splitlines():
                if not line.startswith("[INFO]"):
                    print(f"portal: {line[-200:]}", file=sys.stderr)


def wait_for_port(port: int) -> None:
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the portal did not start")


def run_opennds(clients: Clients) -> None:
    with harness(NDS_SPLASH="1") as values:
        clients.attach(values)
        report("opennds_join", clients.join(values, "opennds"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8, help="Python threads per worker")
    parser.add_argument("--no-opennds", action="store_true", help="skip openNDS's own splash")
    parser.add_argument("--no-portal", action="store_true", help="only openNDS's own splash")
    options = parser.parse_args()
    if os.geteuid() != 0 or not HARNESS.exists():
        raise SystemExit("needs root and /work/shared/tools/opennds-netns.sh")
    if not 1 <= options.clients <= 200:
        raise SystemExit("--clients: 1 to 200 (addresses .10 to .209 of the LAN)")
    print(f"cpus={os.cpu_count()}")
    print(f"load_avg_1m_before={os.getloadavg()[0]:.2f}")
    print(f"workers={options.workers}")
    print(f"threads={options.threads}")
    clients = Clients(options.clients)
    try:
        if not options.no_portal:
            run_portal(clients, options.workers, options.threads)
        if not options.no_opennds:
            run_opennds(clients)
    finally:
        clients.delete()
    print(f"load_avg_1m_after={os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
