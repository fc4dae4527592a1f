"""The roles converge on a throwaway Debian root, a second run changes nothing, and what they
render is what the services need.

One Debian root per role (debootstrap, cached) is provisioned by its playbook through the
chroot connection, with the application installed from a wheel built from this checkout.
Services are not started in a chroot; files, packages and unit enablement are real.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import socketserver
import subprocess
import tempfile
import threading
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devices.protocol.signing import SigningKey
from tests.ansible import support
from tests.ansible.support import ANSIBLE_DIR, CACHE_DIR, REPO, Result

pytestmark = [
    pytest.mark.slow,
    # Cold caches: debootstrap, then every package and wheel downloaded once.
    pytest.mark.timeout(2400),
    pytest.mark.skipif(
        os.geteuid() != 0,
        reason="converging roles into a chroot needs root (debootstrap, chroot, mount); "
        "CI runs as root",
    ),
]

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
BIN = "/opt/digital-spaces/venv/bin"


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

    def chroot(self, host: str, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["chroot", str(self.roots[host]), *argv],
            capture_output=True,
            text=True,
            timeout=120,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"},
        )

    def gid(self, host: str, group: str) -> int:
        for line in self.text(host, "/etc/group").splitlines():
            name, _, gid, _ = line.split(":", 3)
            if name == group:
                return int(gid)
        raise AssertionError(f"{host} has no group {group}")


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


@pytest.fixture(scope="module")
def estate() -> Iterator[Estate]:
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


# --- convergence ------------------------------------------------------------------------------


@pytest.mark.parametrize("host", list(PLAYBOOKS))
def test_playbook_converges_and_a_second_run_changes_nothing(estate: Estate, host: str) -> None:
    first, second = estate.first[host], estate.second[host]
    assert first.returncode == 0, first.explain()
    assert first.recap()[host]["failed"] == 0, first.explain()
    assert second.returncode == 0, second.explain()
    recap = second.recap()[host]
    assert recap["changed"] == 0, "second run changed:\n" + "\n".join(second.changed_tasks())
    assert recap["failed"] == recap["unreachable"] == 0, second.explain()


def test_the_application_is_installed_in_its_virtualenv(estate: Estate) -> None:
    for host in PLAYBOOKS:
        ran = estate.chroot(host, f"{BIN}/digital-spaces", "--help")
        assert ran.returncode == 0, ran.stderr
        assert "player" in ran.stdout and "portal" in ran.stdout


def test_every_machine_runs_on_the_city_clock(estate: Estate) -> None:
    for host in PLAYBOOKS:
        assert os.readlink(estate.path(host, "/etc/localtime")).endswith("Australia/Perth")
        assert estate.text(host, "/etc/hostname") == f"{host}\n"


# --- units -------------------------------------------------------------------------------------


UNITS = {
    PLAYER: ["digital-spaces-player.service"],
    PORTAL: [
        "digital-spaces-portal.service",
        "digital-spaces-ap-nat.service",
        "hostapd.service",
        "opennds.service",
    ],
    CMS: [
        "digital-spaces-cms.service",
        "digital-spaces-ingest@1.service",
        "digital-spaces-backup.service",
        "digital-spaces-backup.timer",
    ],
}


@pytest.mark.parametrize("host", list(UNITS))
def test_units_pass_systemd_verify(estate: Estate, host: str) -> None:
    # systemd-analyze prints problems (unknown keys, bad values, missing binaries) as warnings
    # and still exits 0, so a clean unit is one with nothing on stderr.
    ran = estate.chroot(host, "systemd-analyze", "verify", "--man=no", *UNITS[host])
    assert ran.returncode == 0 and ran.stderr == "", ran.stderr


def _unit(estate: Estate, host: str, name: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in estate.text(host, f"/etc/systemd/system/{name}").splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values


def _enabled(estate: Estate, host: str, unit: str, target: str = "multi-user.target") -> bool:
    return estate.path(host, f"/etc/systemd/system/{target}.wants/{unit}").is_symlink()


def test_player_unit_runs_the_player_unprivileged_with_a_watchdog(estate: Estate) -> None:
    unit = _unit(estate, PLAYER, "digital-spaces-player.service")
    assert unit["ExecStart"] == [
        f"{BIN}/digital-spaces player --config /etc/digital-spaces/player.toml"
    ]
    assert unit["User"] == ["digital-spaces"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["WatchdogSec"] == ["30"]
    assert unit["NoNewPrivileges"] == ["yes"]
    assert unit["ProtectSystem"] == ["strict"]
    assert unit["ReadWritePaths"] == ["/var/lib/digital-spaces"]
    assert "video" in unit["SupplementaryGroups"][0].split()
    assert _enabled(estate, PLAYER, "digital-spaces-player.service")


def test_portal_and_access_point_units_are_enabled(estate: Estate) -> None:
    unit = _unit(estate, PORTAL, "digital-spaces-portal.service")
    assert unit["ExecStart"] == [
        f"{BIN}/digital-spaces portal --config /etc/digital-spaces/portal.toml"
    ]
    assert unit["User"] == ["digital-spaces"]
    assert unit["Restart"] == ["on-failure"]
    for name in UNITS[PORTAL] + ["dnsmasq.service", "systemd-networkd.service"]:
        assert _enabled(estate, PORTAL, name), f"{name} is not enabled"
        masked = estate.path(PORTAL, f"/etc/systemd/system/{name}")
        assert not (masked.is_symlink() and os.readlink(masked) == "/dev/null"), f"{name} masked"


def test_cms_runs_under_gunicorn_with_migrations_first_and_ingest_instances(
    estate: Estate,
) -> None:
    unit = _unit(estate, CMS, "digital-spaces-cms.service")
    (exec_start,) = unit["ExecStart"]
    assert exec_start.startswith(f"{BIN}/gunicorn ")
    assert exec_start.endswith("'central_cms.app:create_app()'")
    # Each worker its own broker account (issue 13, point 7), and each ingest instance.
    assert " --config python:central_cms.gunicorn_conf " in exec_start
    (ingest_start,) = _unit(estate, CMS, "digital-spaces-ingest@.service")["ExecStart"]
    assert " --username ingest-%i " in ingest_start
    assert unit["ExecStartPre"] == [
        f"{BIN}/digital-spaces cms --config /etc/digital-spaces/cms.toml migrate"
    ]
    assert unit["User"] == ["digital-spaces"]
    for name in ("digital-spaces-ingest@1.service", "digital-spaces-ingest@2.service"):
        assert _enabled(estate, CMS, name)
    assert _enabled(estate, CMS, "digital-spaces-backup.timer", "timers.target")
    backup = estate.chroot(CMS, "bash", "-n", "/usr/local/sbin/digital-spaces-backup")
    assert backup.returncode == 0, backup.stderr


# --- configuration files ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "name", "kind"), [(PLAYER, "player", "signage"), (PORTAL, "portal", "portal")]
)
def test_device_configuration_carries_its_identity_and_only_its_group_reads_it(
    estate: Estate, host: str, name: str, kind: str
) -> None:
    path = estate.path(host, f"/etc/digital-spaces/{name}.toml")
    status = path.stat()
    assert oct(status.st_mode & 0o777) == "0o640"
    assert status.st_uid == 0
    assert status.st_gid == estate.gid(host, "digital-spaces")
    config = tomllib.loads(path.read_text(encoding="utf-8"))
    assert config["device"] == {"id": host, "kind": kind, "data_dir": "/var/lib/digital-spaces"}
    assert config["mqtt"]["password"] == MQTT_PASSWORD
    assert config["mqtt"]["username"] == host
    assert config["cms"]["public_keys"] == [estate.public_key]


def test_player_configuration_is_what_the_player_reads(estate: Estate) -> None:
    program = (
        "import sys; from pathlib import Path; from devices.config import load_device_config; "
        "from signage_player.settings import player_settings; "
        "c = load_device_config(Path(sys.argv[1])); "
        "print(c.device_id, player_settings(c.sections['player']).video)"
    )
    ran = estate.chroot(
        PLAYER,
        f"{BIN}/python",
        "-c",
        program,
        "/etc/digital-spaces/player.toml",
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == [PLAYER, "False"]


def test_led_player_boot_files_set_the_hdmi_mode_and_the_read_only_root(estate: Estate) -> None:
    config_txt = estate.text(PLAYER, "/boot/firmware/config.txt")
    assert "hdmi_force_hotplug=1" in config_txt
    assert "hdmi_group=2\nhdmi_mode=87\nhdmi_cvt=1280 720 60 3 0 0 0" in config_txt
    assert config_txt.count("# BEGIN digital-spaces") == 1
    cmdline = estate.text(PLAYER, "/boot/firmware/cmdline.txt")
    assert cmdline.endswith("\n") and cmdline.count("\n") == 1
    words = cmdline.split()
    assert words[: len(PI_CMDLINE.split())] == PI_CMDLINE.split()
    assert words.count("video=HDMI-A-1:1280x720@60D") == 1
    assert words.count("overlayroot=tmpfs:recurse=0") == 1
    fstab = estate.text(PLAYER, "/etc/fstab")
    assert re.search(r"^LABEL=ds-data\s+/var/lib/digital-spaces\s+ext4\s", fstab, re.MULTILINE)
    dpkg = estate.chroot(PLAYER, "dpkg-query", "-W", "-f=${Status}", "overlayroot", "cec-utils")
    assert dpkg.stdout.count("install ok installed") == 2, dpkg.stdout + dpkg.stderr


def _settings(text: str, separator: str = "=") -> dict[str, str]:
    pairs = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and separator in line:
            key, _, value = line.partition(separator)
            pairs[key.strip()] = value.strip()
    return pairs


def test_access_point_broadcasts_the_site_ssid(estate: Estate) -> None:
    hostapd = _settings(estate.text(PORTAL, "/etc/hostapd/hostapd.conf"))
    assert hostapd["ssid"] == "Riverton Library Free WiFi"
    assert hostapd["interface"] == "wlan0"
    assert hostapd["country_code"] == "AU"
    assert hostapd["ap_isolate"] == "1"
    assert "wpa" not in hostapd  # an open network; openNDS is the gate
    dnsmasq = _settings(estate.text(PORTAL, "/etc/dnsmasq.d/digital-spaces-ap.conf"))
    assert dnsmasq["interface"] == "wlan0"
    assert dnsmasq["dhcp-range"].startswith("10.1.0.10,10.1.3.250,")
    network = estate.text(PORTAL, "/etc/systemd/network/20-digital-spaces-ap.network")
    assert "Address=10.1.0.1/22" in network


def test_opennds_sends_visitors_to_the_portal_on_this_node(estate: Estate) -> None:
    opennds = _settings(estate.text(PORTAL, "/etc/opennds/opennds.conf"), " ")
    portal = tomllib.loads(estate.text(PORTAL, "/etc/digital-spaces/portal.toml"))["portal"]
    host, _, port = portal["listen"].rpartition(":")
    assert opennds["GatewayInterface"] == "wlan0"
    assert (opennds["FasRemoteIP"], opennds["FasPort"]) == (host, port) == ("10.1.0.1", "8080")
    assert opennds["FasPath"] == "/"
    assert opennds["FasKey"] == portal["faskey"] == FAS_KEY
    assert opennds["fas_secure_enabled"] == str(portal["fas_level"]) == "2"
    assert portal["gateway_addresses"] == [f"10.1.0.1:{opennds['GatewayPort']}"]
    # openNDS's FAS level 2 encrypts with PHP.
    dpkg = estate.chroot(PORTAL, "dpkg-query", "-W", "-f=${Status}", "php-cli", "opennds")
    assert dpkg.stdout.count("install ok installed") == 2, dpkg.stdout + dpkg.stderr
    sudoers = estate.chroot(PORTAL, "sudo", "-l", "-U", "digital-spaces")
    assert "/usr/bin/ndsctl json" in sudoers.stdout, sudoers.stdout + sudoers.stderr


def test_mosquitto_is_sized_for_the_fleet_and_requires_accounts(estate: Estate) -> None:
    conf = _settings(estate.text(CMS, "/etc/mosquitto/conf.d/digital-spaces.conf"), " ")
    # Two devices in this inventory: the floor of 10 000 queued messages per client applies.
    assert int(conf["max_queued_messages"]) >= 10_000
    assert int(conf["max_inflight_messages"]) >= 100
    assert conf["max_queued_bytes"] == "0"  # bounded by count only
    assert conf["persistence"] == "true"
    assert conf["allow_anonymous"] == "false"
    assert conf["password_file"] == "/etc/mosquitto/digital-spaces.passwd"
    assert conf["acl_file"] == "/etc/mosquitto/digital-spaces.acl"
    text = estate.text(CMS, "/etc/mosquitto/conf.d/digital-spaces.conf")
    assert re.search(r"^listener 8883$", text, re.MULTILINE)
    assert re.search(r"^certfile /etc/mosquitto/certs/digital-spaces/cms\.crt$", text, re.M)
    # Both listeners (devices over TLS, the CMS and ingest on loopback) tie ids to accounts.
    assert (
        re.findall(r"^use_username_as_clientid true$", text, re.M)
        == ["use_username_as_clientid true"] * 2
    )


def test_mosquitto_starts_with_the_rendered_configuration(estate: Estate) -> None:
    """The broker itself reads the file: TLS key, password file, ACL and limits all accepted.
    It runs in a private network namespace, so its ports never meet the host's broker."""
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is needed to start Mosquitto in its own namespace")
    root = estate.roots[CMS]
    log = root / "var/log/mosquitto/mosquitto.log"
    log.unlink(missing_ok=True)
    # What mosquitto.service's ExecStartPre does on a real server.
    made = estate.chroot(CMS, "install", "-d", "-o", "mosquitto", "-m", "0740", "/run/mosquitto")
    assert made.returncode == 0, made.stderr
    script = (
        "ip link set lo up && "
        f"exec chroot {root} /usr/sbin/mosquitto -c /etc/mosquitto/mosquitto.conf"
    )
    broker = subprocess.Popen(["unshare", "--net", "sh", "-c", script])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and broker.poll() is None:
            if log.exists() and "Opening ipv4 listen socket on port 8883" in log.read_text():
                break
            time.sleep(0.2)
        text = log.read_text() if log.exists() else ""
        assert broker.poll() is None, f"mosquitto exited ({broker.returncode}):\n{text}"
        assert "on port 8883" in text and "on port 1883" in text, text
        assert "Error" not in text, text
    finally:
        broker.terminate()
        try:
            broker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            broker.kill()
            broker.wait()


def test_cms_configuration_is_what_the_cms_reads(estate: Estate) -> None:
    program = (
        "import sys; from pathlib import Path; from central_cms.config import load_config; "
        "c = load_config(Path(sys.argv[1]), env={}); "
        "print(c.database_url, c.instance_path, c.secure_cookies, ' '.join(c.mqtt_brokers))"
    )
    ran = estate.chroot(CMS, f"{BIN}/python", "-c", program, "/etc/digital-spaces/cms.toml")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == [
        "postgresql+psycopg://digital-spaces@/digital_spaces?host=/run/postgresql",
        "/var/lib/digital-spaces/cms",
        "True",
        "mqtt://127.0.0.1:1883",
    ]
    environment = estate.path(CMS, "/etc/digital-spaces/cms.env")
    assert oct(environment.stat().st_mode & 0o777) == "0o640"
    store = urlsplit(_settings(environment.read_text())["DS_ANALYTICS_STORE"])
    assert (store.scheme, store.hostname, store.port, store.path) == (
        "influxdbs",
        "influx.test",
        8086,
        "/digital-spaces",
    )
    assert (unquote(store.username or ""), unquote(store.password or "")) == ("city", INFLUX_TOKEN)
    assert parse_qs(store.query)["state"] == ["/var/lib/digital-spaces/cms/analytics-state.sqlite3"]
    nginx = estate.chroot(CMS, "nginx", "-t")
    assert nginx.returncode == 0, nginx.stderr
