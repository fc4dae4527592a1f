"""IT's alert thresholds: checked with errors that name the field, kept in the fleet store,
and read afresh by the ingest's health monitor on every tick."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from central_cms.analytics.health_rules import AlertRules, AlertRulesError
from central_cms.analytics.notify import HealthMonitor, NullNotifier
from central_cms.analytics.sqlite_store import SqliteStore
from central_cms.ingest_cli import build_parser, main
from devices.clock import ManualClock
from devices.protocol import DeviceState
from tests.analytics.roadside import INFO, NOW, health, status


def refused(**values: float) -> dict[str, str]:
    with pytest.raises(AlertRulesError) as caught:
        AlertRules(**values)
    return {p.field: p.fix for p in caught.value.problems}


def test_the_defaults_are_valid_rules():
    assert AlertRules().offline_after_min == 10


@pytest.mark.parametrize(
    ("values", "field", "fix"),
    [
        ({"offline_after_min": 0}, "offline_after_min", "from 2 to 10080 minutes"),
        ({"offline_after_min": -5}, "offline_after_min", "from 2 to 10080 minutes"),
        ({"manifest_grace_min": 0}, "manifest_grace_min", "from 1 to 10080 minutes"),
        ({"disk_critical_percent": 120}, "disk_critical_percent", "from 1 to 100 %"),
        ({"memory_warning_percent": -1}, "memory_warning_percent", "from 1 to 100 %"),
        ({"temperature_critical_c": 250}, "temperature_critical_c", "from 30 to 100 °C"),
        ({"temperature_warning_c": 5}, "temperature_warning_c", "from 30 to 100 °C"),
        ({"offline_after_min": float("nan")}, "offline_after_min", "Enter a number."),
        ({"disk_warning_percent": float("inf")}, "disk_warning_percent", "Enter a number."),
    ],
)
def test_a_threshold_out_of_its_range_is_refused_naming_the_field(values, field, fix):
    problems = refused(**values)
    assert list(problems) == [field]
    assert fix in problems[field]


def test_a_warning_level_at_or_above_the_critical_one_is_refused_on_the_warning_field():
    problems = refused(temperature_warning_c=85, temperature_critical_c=80)
    assert problems == {
        "temperature_warning_c": "The warning level must be below the critical level (80 °C)."
    }
    assert "disk_warning_percent" in refused(disk_warning_percent=95, disk_critical_percent=95)


def test_the_error_message_names_every_field_at_fault():
    with pytest.raises(AlertRulesError) as caught:
        AlertRules(offline_after_min=0, disk_critical_percent=101)
    assert caught.value.field == "offline_after_min"
    assert "offline_after_min=0" in str(caught.value)
    assert "disk_critical_percent=101" in str(caught.value)


def test_a_store_without_saved_rules_answers_the_defaults(store):
    assert store.alert_rules() == AlertRules()


def test_saved_rules_come_back_from_the_file_in_another_process(tmp_path):
    path = tmp_path / "fleet.sqlite3"
    cms = SqliteStore(path)
    chosen = AlertRules(offline_after_min=3.5, temperature_warning_c=70, disk_critical_percent=90)
    cms.save_alert_rules(chosen)
    cms.save_alert_rules(AlertRules(offline_after_min=30))  # the newest save wins
    cms.close()
    ingest = SqliteStore(path)  # as the ingest process opens it
    assert ingest.alert_rules() == AlertRules(offline_after_min=30)
    ingest.save_alert_rules(chosen)
    assert ingest.alert_rules() == chosen
    ingest.close()


def test_saved_rules_missing_a_field_take_its_default_and_unusable_ones_fall_back(tmp_path):
    path = tmp_path / "fleet.sqlite3"
    store = SqliteStore(path)
    raw = sqlite3.connect(path)
    # written by a version without manifest_grace_min, say
    raw.execute("INSERT INTO alert_rules (id, body) VALUES (1, '{\"offline_after_min\": 20}')")
    raw.commit()
    assert store.alert_rules() == AlertRules(offline_after_min=20)
    raw.execute("UPDATE alert_rules SET body = '{\"offline_after_min\": 0}'")
    raw.commit()
    assert store.alert_rules() == AlertRules()
    raw.close()
    store.close()


def test_the_monitor_applies_a_changed_threshold_on_its_next_tick(tmp_path):
    path = tmp_path / "analytics.sqlite3"
    ingest_store, cms_store = SqliteStore(path), SqliteStore(path)
    ingest_store.register_devices([INFO])
    ingest_store.record_status(status(), NOW)
    ingest_store.record_health([health()], NOW)
    clock = ManualClock(NOW)
    monitor = HealthMonitor(ingest_store, NullNotifier(), clock)
    assert monitor.tick().raised == ()

    clock.advance(minutes=15)  # silent for 15 minutes: offline by the default 10
    assert [f.rule for f in monitor.tick().raised] == ["offline"]

    cms_store.save_alert_rules(AlertRules(offline_after_min=30))  # IT saves on the page
    clock.advance(minutes=1)
    changes = monitor.tick()
    assert [f.rule for f in changes.cleared] == ["offline"] and changes.raised == ()

    cms_store.save_alert_rules(AlertRules(offline_after_min=30, temperature_warning_c=50))
    clock.advance(minutes=1)
    assert [(f.rule, f.message) for f in monitor.tick().raised] == [("temperature", "55.0 C")]

    ingest_store.record_status(status(DeviceState.OFFLINE), clock.now())
    clock.advance(minutes=31)
    assert "offline" in [f.rule for f in monitor.tick().raised]
    ingest_store.close()
    cms_store.close()


def test_the_ingest_refuses_the_removed_offline_flag_and_says_where_the_setting_went(
    tmp_path, capsys
):
    code = main(["--store", f"sqlite:///{tmp_path}/a.sqlite3", "--offline-after-min", "5"])
    assert code == 2
    assert "Device health > Alert rules" in capsys.readouterr().err
    help_text = build_parser().format_help()
    assert "--offline-after-min" not in help_text
    assert "Device health > Alert rules" in help_text


def test_the_monitor_keeps_the_offline_wait_it_was_given_in_minutes(tmp_path):
    store = SqliteStore(tmp_path / "analytics.sqlite3")
    store.register_devices([INFO])
    store.record_status(status(), NOW)
    store.save_alert_rules(AlertRules(offline_after_min=2.5))
    clock = ManualClock(NOW + timedelta(minutes=2))
    monitor = HealthMonitor(store, NullNotifier(), clock)
    assert monitor.tick().raised == ()
    clock.advance(seconds=31)
    assert [f.rule for f in monitor.tick().raised] == ["offline"]
    store.close()
