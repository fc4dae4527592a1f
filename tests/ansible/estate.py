"""The estate the convergence tests look at: one throwaway Debian root per role, each
provisioned twice by its playbook through the chroot connection, with the application
installed from a wheel built from this checkout. Built once per test session."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import json
import os
import shutil
import socketserver
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devices import __version__
from devices.protocol.signing import SigningKey
from tests.ansible import support
from tests.ansible.support import ANSIBLE_DIR, CACHE_DIR, REPO, Result

PLAYER = "led-leach-hwy-01"
PORTAL = "portal-riverton-lib-01"
CMS = "cms-01"
PLAYBOOKS = {PLAYER: "signage_player.yml", PORTAL: "portal_node.yml", CMS: "cms_server.yml"}
MQTT_PASSWORD = 'pa"ss\\wörd #1'  # quotes, a backslash and non-ASCII: TOML escaping
FAS_KEY = "0123456789abcdef0123456789abcdef"
PORTAL_SECRET = "ab" * 32
CMS_MQTT_PASSWORD = "cms-password"
INFLUX_TOKEN = "tok/en+with=base64=="
PI_CMDLINE = "console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 \
fsck.repair=yes rootwait quiet splash plymouth.ignore-serial-consoles"
CONVERGE_TIMEOUT_S = 1500
BIN = "/opt/digital-spaces/venv/bin"  # the CMS's one virtualenv
# A device's releases (docs/software-updates.md): the one the wheel from this checkout makes.
SOFTWARE_ROOT = "/opt/digital-spaces"
GOOD_PYTHON = f"{SOFTWARE_ROOT}/good/bin/python"
VERSION = __version__


@dataclass(frozen=True)
class Estate:
    roots: dict[str, Path]
    first: dict[str, Result]
    second: dict[str, Result]
    public_key: str

    def path(self, host: str, inside: str) -> Path:
        return self.roots[host] / inside.lstrip("/")

    def text(self, host: str, inside: str) -> str:
        return self.path(host, inside).read_text(encoding="utf-8")

    def chroot(
        self, host: str, *argv: str, user: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run argv in the host's root, as root or as `user` (a name in its /etc/passwd)."""
        userspec = (
            [] if user is None else [f"--userspec={self.uid(host, user)}:{self.gid(host, user)}"]
        )
        return subprocess.run(
            ["chroot", *userspec, str(self.roots[host]), *argv],
            capture_output=True,
            text=True,
            timeout=120,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"},
        )

    def uid(self, host: str, user: str) -> int:
        return self._number(host, "/etc/passwd", user)

    def gid(self, host: str, group: str) -> int:
        return self._number(host, "/etc/group", group)

    def _number(self, host: str, table: str, name: str) -> int:
        """A user's or group's number in the host's /etc/passwd or /etc/group."""
        for line in self.text(host, table).splitlines():
            entry, _, number, _ = line.split(":", 3)
            if entry == name:
                return int(number)
        raise AssertionError(f"{host} has no {name} in {table}")


# Every convergence test module: slow, long timeout, root only.
CONVERGE_MARKS = [
    pytest.mark.slow,
    # Cold caches: debootstrap, then every package and wheel downloaded once.
    pytest.mark.timeout(2400),
    pytest.mark.skipif(
        os.geteuid() != 0,
        reason="converging roles into a chroot needs root (debootstrap, chroot, mount); "
        "CI runs as root",
    ),
]

# --- what the estate is built from ----------------------------------------------------------


def _source_copy(target: Path) -> Path:
    """The checkout's files (tracked and new, not ignored), without the parts pip needs not."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-co", "--exclude-standard", "-z"],
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if name.startswith(("tests/", "ansible/", "bench/", "docs/")):
            continue
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def _wheelhouse() -> Path:
    digest = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()[:12]
    return CACHE_DIR / f"wheels-{digest}"


def _wheels(work: Path) -> tuple[Path, Path]:
    """(this checkout's wheel, a directory of its dependencies' wheels).

    The dependencies are cached by the hash of pyproject.toml; the project's own wheel is
    built every session, from the working tree."""
    source = _source_copy(work / "src")
    pip = [str(REPO / ".venv/bin/python"), "-m", "pip", "--disable-pip-version-check"]
    wheelhouse = _wheelhouse()
    dist = work / "dist"
    if not wheelhouse.is_dir():
        building = Path(tempfile.mkdtemp(prefix=".build-", dir=CACHE_DIR))
        try:
            result = support.run(
                [*pip, "wheel", "-q", "-w", str(building), str(source)], timeout_s=900
            )
            assert result.returncode == 0, result.explain()
            building.chmod(0o755)
            for own in building.glob("digital_spaces-*.whl"):
                own.unlink()
            with contextlib.suppress(OSError):  # a concurrent session made it first
                building.rename(wheelhouse)
        finally:
            support.remove_tree(building)
    result = support.run(
        [*pip, "wheel", "-q", "--no-deps", "-w", str(dist), str(source)], timeout_s=600
    )
    assert result.returncode == 0, result.explain()
    (wheel,) = dist.glob("digital_spaces-*.whl")
    return wheel, wheelhouse


@contextlib.contextmanager
def _serving(directory: Path) -> Iterator[str]:
    """An HTTP server for the wheelhouse on 127.0.0.1, which the chroots share with us."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def _tls_pair(hostname: str) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


def _inventory(
    roots: dict[str, Path], wheel: Path, index_url: str, signing_key: SigningKey
) -> dict[str, object]:
    certificate, private_key = _tls_pair("cms.test")
    return {
        "all": {
            "vars": {
                "ansible_connection": "community.general.chroot",
                "ansible_become": False,
                "ansible_python_interpreter": "/usr/bin/python3",
                "digital_spaces_manage_services": False,
                "digital_spaces_timezone": "Australia/Perth",
                "digital_spaces_wheel": str(wheel),
                "digital_spaces_pip_find_links": index_url,
                "digital_spaces_pip_no_index": True,
                "digital_spaces_mqtt_urls": ["mqtts://cms.test:8883"],
                "digital_spaces_cms_public_keys": [signing_key.public_key.to_text()],
                "digital_spaces_mqtt_password": MQTT_PASSWORD,
                "digital_spaces_asset_token": "asset-token-for-tests",
                "digital_spaces_sites": {
                    "riverton-library": {
                        "name": "Riverton Library",
                        "ssid": "Riverton Library Free WiFi",
                    },
                    "roadside": {"name": "Roadside LED screens"},
                    "admin-building": {"name": "Administration Centre"},
                },
            },
            "children": {
                "signage_players": {
                    "hosts": {
                        PLAYER: {
                            "ansible_host": str(roots[PLAYER]),
                            "digital_spaces_site": "roadside",
                            "signage_player_video": False,
                            "signage_player_hdmi_mode": {
                                "width_px": 1280,
                                "height_px": 720,
                                "refresh_hz": 60,
                            },
                            "signage_player_readonly_root": True,
                            "signage_player_persistent_data_device": "LABEL=ds-data",
                        }
                    }
                },
                "portal_nodes": {
                    "hosts": {
                        PORTAL: {
                            "ansible_host": str(roots[PORTAL]),
                            "digital_spaces_site": "riverton-library",
                            "portal_node_fas_key": FAS_KEY,
                            "portal_node_secret": PORTAL_SECRET,
                        }
                    }
                },
                "cms_servers": {
                    "hosts": {
                        CMS: {
                            "ansible_host": str(roots[CMS]),
                            "digital_spaces_site": "admin-building",
                            "cms_server_public_hostname": "cms.test",
                            "cms_server_secret_key": "s" * 64,
                            "cms_server_signing_key": signing_key.to_pem().decode(),
                            "cms_server_mqtt_password": CMS_MQTT_PASSWORD,
                            "cms_server_tls_certificate": certificate,
                            "cms_server_tls_private_key": private_key,
                            "cms_server_ingest_instances": 2,
                            "cms_server_influxdb_url": "https://influx.test:8086",
                            "cms_server_influxdb_org": "city",
                            "cms_server_influxdb_token": INFLUX_TOKEN,
                        }
                    }
                },
            },
        }
    }


def _converge(inventory: Path, env: dict[str, str]) -> dict[str, Result]:
    hosts = list(PLAYBOOKS)
    results = support.run_all(
        [["ansible-playbook", "-i", str(inventory), PLAYBOOKS[host]] for host in hosts],
        cwd=ANSIBLE_DIR,
        env=env,
        timeout_s=CONVERGE_TIMEOUT_S,
    )
    return dict(zip(hosts, results, strict=True))


@contextlib.contextmanager
def converged_estate() -> Iterator[Estate]:
    """Build the throwaway roots, converge each twice (the second run only if the first
    passed), and remove the work folder afterwards."""
    for tool in ("debootstrap", "ansible-playbook", "chroot", "mount", "ip"):
        assert shutil.which(tool), f"{tool} is missing: run scripts/install-system-packages"
    support.sweep_leftovers(keep=[support.base_root_path(), _wheelhouse()])
    support.base_root()
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="work-", dir=CACHE_DIR))
    try:
        wheel, wheelhouse = _wheels(work)
        signing_key = SigningKey.generate()
        with contextlib.ExitStack() as stack:
            roots = {
                host: stack.enter_context(support.throwaway_root(work, host)) for host in PLAYBOOKS
            }
            boot = roots[PLAYER] / "boot/firmware"
            boot.mkdir(parents=True)
            (boot / "cmdline.txt").write_text(PI_CMDLINE + "\n")
            index_url = stack.enter_context(_serving(wheelhouse))
            inventory = work / "hosts.yml"
            inventory.write_text(
                json.dumps(_inventory(roots, wheel, index_url, signing_key), indent=1)
            )
            env = support.ansible_env(work / "ansible-home")
            first = _converge(inventory, env)
            second = (
                _converge(inventory, env)
                if all(r.returncode == 0 for r in first.values())
                else first
            )
            support.keep_debs(list(roots.values()))
            for host in PLAYBOOKS:  # shown with -s, or -rP
                print(
                    f"{host}: first run {first[host].duration_s:.0f} s, "
                    f"second {second[host].duration_s:.0f} s"
                )
            yield Estate(roots, first, second, signing_key.public_key.to_text())
    finally:
        support.remove_tree(work)
