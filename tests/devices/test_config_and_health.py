from __future__ import annotations

import subprocess
import sys

import pytest

from devices.broker import BrokerLimits, acl_file, hash_password, mosquitto_conf, password_file
from devices.clock import ManualClock
from devices.config import BrokerUrl, ConfigError, device_config_toml, load_device_config
from devices.health import FakePiSensors, HealthProbe, VcgencmdSensors, decode_throttled
from devices.protocol import DeviceKind, SigningKey
from tests.brokers import free_port, start_mosquitto
from tests.devices.factories import T0


def good_config(tmp_path, **changes):
    fields = {
        "device_id": "sig-riverton-01",
        "kind": DeviceKind.SIGNAGE,
        "brokers": ["mqtts://cms.example.org:8883", "mqtt://10.0.0.2"],
        "username": "sig-riverton-01",
        "password": 'pa"ss\\word',
        "public_keys": [SigningKey.generate().public_key.to_text()],
        "asset_token": "token",
        "data_dir": str(tmp_path / "data"),
    }
    fields.update(changes)
    path = tmp_path / "device.toml"
    path.write_text(device_config_toml(**fields))
    return path


def test_registration_file_loads_back_with_every_setting(tmp_path):
    config = load_device_config(good_config(tmp_path))
    assert config.device_id == "sig-riverton-01"
    assert config.mqtt.brokers == (
        BrokerUrl("cms.example.org", 8883, tls=True),
        BrokerUrl("10.0.0.2", 1883, tls=False),
    )
    assert config.mqtt.password == 'pa"ss\\word'
    assert config.outbox_path == tmp_path / "data" / "outbox.sqlite3"


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (lambda t: t.replace('kind = "signage"', 'kind = "toaster"'), "device.kind"),
        (lambda t: t.replace('id = "sig-riverton-01"', 'id = "Sig 01"'), "device.id"),
        (lambda t: t.replace("mqtts://cms.example.org:8883", "http://cms"), "mqtt.brokers"),
        (lambda t: t.replace("public_keys = [", 'public_keys = ["rsa:abc", '), "cms.public_keys"),
        (lambda t: t.replace("[cms]", "[cmx]"), "cms"),
        (lambda t: t + "\n[budgets]\ncache_mb = -5\n", "budgets.cache_mb"),
    ],
)
def test_bad_setting_stops_start_up_naming_the_key(tmp_path, edit, key):
    path = good_config(tmp_path)
    path.write_text(edit(path.read_text()))
    with pytest.raises(ConfigError) as caught:
        load_device_config(path)
    assert caught.value.key == key
    assert caught.value.fix


def test_missing_file_says_how_to_fix_it(tmp_path):
    with pytest.raises(ConfigError, match="pass --config"):
        load_device_config(tmp_path / "nope.toml")


def test_throttled_flags_are_decoded():
    assert decode_throttled(0x50005) == (
        "under-voltage",
        "throttled",
        "under-voltage-occurred",
        "throttling-occurred",
    )
    assert decode_throttled(0) == ()


def test_vcgencmd_sensors_read_the_pi_tools_output(tmp_path):
    outputs = {"get_throttled": "throttled=0x4\n", "measure_temp": "temp=61.2'C\n"}
    sensors = VcgencmdSensors(runner=lambda cmd: outputs[cmd[1]], thermal_zone=tmp_path / "none")
    assert sensors.throttled() == 4
    assert sensors.temperature_c() == pytest.approx(61.2)


def test_health_sample_carries_pi_sensors_and_outbox_figures(tmp_path):
    probe = HealthProbe(
        "sig-a", tmp_path, ManualClock(T0), FakePiSensors(temperature_c=71.5, throttled=0x4)
    )
    sample = probe.sample(outbox_pending=12, outbox_dropped=3, manifest_version=9)
    assert sample.temperature_c == 71.5
    assert sample.throttling.flags == ("throttled",)
    assert (sample.outbox_pending, sample.outbox_dropped, sample.manifest_version) == (12, 3, 9)
    assert sample.disk_free_bytes > 0 and sample.at == T0


def test_generated_broker_config_is_sized_for_the_fleet_not_the_stock_defaults():
    text = mosquitto_conf(port=1883, fleet_size=5000, allow_anonymous=True)
    limits = BrokerLimits.for_fleet(5000)
    assert f"max_queued_messages {limits.max_queued_messages}" in text
    assert limits.max_queued_messages >= 5000 * 20 > 1000
    assert "max_inflight_messages 1000" in text


def test_broker_cli_prints_a_config_mosquitto_accepts(tmp_path):
    port = free_port()
    (tmp_path / "passwords").write_text(password_file({"sig-a": hash_password("pw")}))
    (tmp_path / "acl").write_text(acl_file(["sig-a"], ["cms-1"]))
    files = ["--password-file", str(tmp_path / "passwords"), "--acl-file", str(tmp_path / "acl")]
    out = subprocess.run(
        [sys.executable, "-m", "digital_spaces", "broker", "config", "--port", str(port), *files],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"listener {port} 127.0.0.1\nuse_username_as_clientid true\n" in out
    broker = start_mosquitto(tmp_path, out, port)  # raises if Mosquitto refuses the file
    try:
        assert broker.process is not None and broker.process.poll() is None
    finally:
        broker.stop()


def test_broker_config_without_a_password_file_is_refused_unless_asked_and_says_why():
    command = [sys.executable, "-m", "digital_spaces", "broker", "config", "--acl-file", "/x/acl"]
    refused = subprocess.run(command, capture_output=True, text=True)
    assert refused.returncode == 2
    assert refused.stdout == ""  # nothing a shell redirect could install as the config
    assert "any client id" in refused.stderr and "--allow-anonymous" in refused.stderr
    assert "--password-file" in refused.stderr
    asked = subprocess.run([*command, "--allow-anonymous"], capture_output=True, text=True)
    assert asked.returncode == 0
    assert "allow_anonymous true\n" in asked.stdout
