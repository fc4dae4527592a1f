"""What the converged roles render is what the services need: device, player, CMS,
access point, openNDS and Mosquitto configuration (see test_converge.py for the estate)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import tomllib
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from tests.ansible.estate import (
    BIN,
    CMS,
    CONVERGE_MARKS,
    FAS_KEY,
    GOOD_PYTHON,
    INFLUX_TOKEN,
    MQTT_PASSWORD,
    PI_CMDLINE,
    PLAYER,
    PORTAL,
    SOFTWARE_ROOT,
    Estate,
)

pytestmark = CONVERGE_MARKS


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
    assert config["software"] == {"root": SOFTWARE_ROOT}  # updates over the air are on


def test_player_configuration_is_what_the_player_reads(estate: Estate) -> None:
    program = (
        "import sys; from pathlib import Path; from devices.config import load_device_config; "
        "from signage_player.settings import player_settings; "
        "from devices.updates import software_settings; "
        "c = load_device_config(Path(sys.argv[1])); "
        "print(c.device_id, player_settings(c.sections['player']).video, "
        "software_settings(c.sections['software']).root)"
    )
    ran = estate.chroot(
        PLAYER,
        GOOD_PYTHON,
        "-P",
        "-c",
        program,
        "/etc/digital-spaces/player.toml",
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == [PLAYER, "False", SOFTWARE_ROOT]


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
    assert "/usr/bin/ndsctl status" in sudoers.stdout, sudoers.stdout + sudoers.stderr


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
