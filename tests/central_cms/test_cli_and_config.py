"""`digital-spaces cms` admin commands, configuration errors and the demo seed."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from central_cms import models as m
from central_cms.cli import main
from central_cms.config import CmsConfigError, load_config
from central_cms.seed import seed_demo
from devices.broker import check_password
from devices.protocol import PublicKey


def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(CmsConfigError) as error:
        load_config(env={"DS_CMS_MANIFEST_HORIZON_DAYS": "ninety"}, instance_path=tmp_path)
    assert error.value.key == "manifest_horizon_days"
    with pytest.raises(CmsConfigError) as error:
        load_config(env={"DS_CMS_MQTT_BROKERS": "http://x"}, instance_path=tmp_path)
    assert error.value.key == "mqtt_brokers"
    toml = tmp_path / "cms.toml"
    toml.write_text('[cms]\ncolour = "blue"\n')
    with pytest.raises(CmsConfigError) as error:
        load_config(toml, env={}, instance_path=tmp_path)
    assert error.value.key == "colour"


def test_analytics_and_screens_settings_come_from_toml_or_ds_cms_env(tmp_path):
    toml = tmp_path / "cms.toml"
    toml.write_text(
        '[cms]\nanalytics_store = "sqlite:///srv/a.sqlite3"\nscreenshot_max_age_s = 45\n'
    )
    config = load_config(toml, env={"DS_CMS_INGEST_IN_PROCESS": "yes"}, instance_path=tmp_path)
    assert config.analytics_store == "sqlite:///srv/a.sqlite3"
    assert config.ingest_in_process is True
    assert config.screenshot_max_age_s == 45
    assert load_config(env={}, instance_path=tmp_path).screenshot_max_age_s == 30
    for bad in ("soon", "1", "99999"):
        with pytest.raises(CmsConfigError) as error:
            load_config(env={"DS_CMS_SCREENSHOT_MAX_AGE_S": bad}, instance_path=tmp_path)
        assert error.value.key == "screenshot_max_age_s"
    with pytest.raises(CmsConfigError) as error:
        load_config(env={"DS_CMS_INGEST_IN_PROCESS": "sometimes"}, instance_path=tmp_path)
    assert error.value.key == "ingest_in_process"


def test_the_old_analytics_env_names_still_work_and_say_they_are_deprecated(tmp_path, caplog):
    env = {"DS_ANALYTICS_STORE": "sqlite:///srv/old.sqlite3", "DS_INGEST_IN_PROCESS": "1"}
    with caplog.at_level(logging.WARNING, logger="central_cms.config"):
        config = load_config(env=env, instance_path=tmp_path)
    assert config.analytics_store == "sqlite:///srv/old.sqlite3"
    assert config.ingest_in_process is True
    assert "set DS_CMS_ANALYTICS_STORE instead" in caplog.text
    assert "set DS_CMS_INGEST_IN_PROCESS instead" in caplog.text
    # The new name wins where both are set.
    both = {**env, "DS_CMS_ANALYTICS_STORE": "sqlite:///srv/new.sqlite3"}
    assert load_config(env=both, instance_path=tmp_path).analytics_store.endswith("new.sqlite3")


def test_the_secret_key_is_made_once_and_kept(tmp_path):
    first = load_config(env={}, instance_path=tmp_path)
    second = load_config(env={}, instance_path=tmp_path)
    assert first.secret_key == second.secret_key and len(first.secret_key) == 64
    assert first.database_url == f"sqlite:///{tmp_path / 'cms.sqlite3'}"
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_public_key_prints_the_key_devices_trust(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DS_CMS_INSTANCE_PATH", str(tmp_path))
    assert main(["public-key"]) == 0
    first = capsys.readouterr().out.strip()
    assert main(["public-key"]) == 0
    assert capsys.readouterr().out.strip() == first  # the same key on every run
    PublicKey.from_text(first)


def test_seed_then_export_the_broker_files(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DS_CMS_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("DS_CMS_MQTT_PASSWORD", "cms-secret-password")
    # Nothing listens here: seeding must not need a broker (manifests wait in the DB).
    monkeypatch.setenv("DS_CMS_MQTT_BROKERS", "mqtt://127.0.0.1:9")
    assert main(["seed-demo"]) == 0
    assert (
        main(["export-broker", "--passwords", str(tmp_path / "pw"), "--acl", str(tmp_path / "acl")])
        == 0
    )
    passwords = (tmp_path / "pw").read_text()
    acl = (tmp_path / "acl").read_text()
    users = dict(line.split(":", 1) for line in passwords.splitlines())
    # One account per CMS and ingest process: the broker ties client ids to usernames.
    for account in ("cms-1", "cms-4", "ingest-1", "ingest-2"):
        assert check_password("cms-secret-password", users[account])
    assert "user ingest-1\ntopic read ds/v1/devices/+/" in acl
    assert "sig-riverton-lp-foyer-01" in users and "led-albany-hwy-01" in users
    assert (
        "user sig-riverton-lp-foyer-01\ntopic read ds/v1/devices/sig-riverton-lp-foyer-01/" in acl
    )
    assert (tmp_path / "pw").stat().st_mode & 0o077 == 0


def test_the_demo_seed_is_the_first_city(session, rt, publisher):
    seed_demo(session, rt)
    names = set(session.scalars(select(m.Site.name)))
    assert {
        "Riverton Leisureplex",
        "Riverton Library",
        "Whaleback Golf Course",
        "CREEC (Canning River Eco Education Centre)",
        "Roadside LED screens",
    } <= names
    roles = {u.role for u in session.scalars(select(m.User))}
    assert roles == {r.value for r in m.Role}
    published = session.scalars(
        select(m.Campaign).where(m.Campaign.status == m.CampaignStatus.PUBLISHED)
    ).all()
    assert {c.name for c in published} >= {
        "Swim school enrolments open",
        "Riverton school-holiday programme",
    }
    promo = next(c for c in published if c.name == "Riverton school-holiday programme")
    assert "riverton-leisureplex" not in promo.targets["sites"]
    with pytest.raises(RuntimeError):
        seed_demo(session, rt)


def test_the_demo_seed_gives_indoor_sites_layouts_playlists_and_a_feed(session, rt, publisher):
    from devices.protocol import Manifest, parse_signed

    seed_demo(session, rt)
    latest = {}
    for _topic, payload, _retain in publisher.sent:
        if payload:
            manifest = parse_signed(Manifest, payload, [rt.signing_key.public_key])
            latest[manifest.device_id] = manifest
    foyer = latest["sig-riverton-lp-foyer-01"]
    assert foyer.layout is not None and foyer.layout.template == "main-side-ticker-clock"
    zones = {i.zone for i in foyer.default_items}
    assert zones == {"main", "side", "ticker", "clock"}
    assert [f.id for f in foyer.feeds] == ["city-news", "riverton-leisureplex-classes"]
    [timetable] = [i.widget for i in foyer.default_items if i.zone == "side" and i.widget]
    assert timetable.kind == "timetable" and timetable.feed == "riverton-leisureplex-classes"
    # The pool's splash lists the same classes under What's on.
    assert [f.id for f in latest["portal-riverton-lp-01"].feeds] == ["riverton-leisureplex-classes"]
    library = latest["sig-bentley-lib-foyer-01"]
    assert library.layout is not None and library.layout.zone_names == ("main", "ticker")
    assert latest["led-albany-hwy-01"].layout is None
