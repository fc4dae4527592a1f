"""An ack for more than the device ever sent (issue 13.5): one forged `events/ack` must
not delete the outbox unsent nor silence the device. Real Mosquitto, the real ingest
and outbox."""

from __future__ import annotations

import logging

from central_cms.analytics.sqlite_store import SqliteStore
from central_cms.ingest import Ingest, IngestSettings
from devices.protocol import Channel, EventAck, device_topic
from testkit.brokers import paho_client
from testkit.harness import eventually
from tests.analytics.sim import SimDevice, mqtt_settings


def test_a_forged_ack_beyond_what_was_sent_is_ignored_and_logged_and_events_still_arrive(
    broker, store: SqliteStore, tmp_path, unique, caplog
):
    caplog.set_level(logging.WARNING, logger="devices.outbox")
    device_id = f"sig-{unique}"
    device = SimDevice(device_id, broker.port, tmp_path).start()
    forger = paho_client(f"forger-{unique}", broker.port)
    ingest = Ingest(
        store,
        store,
        IngestSettings(
            mqtt=mqtt_settings(broker.port), client_id=f"ingest-{unique}", shared_group=f"g{unique}"
        ),
    )
    try:
        assert device.link.connected.wait(10)
        device.record(50)  # sent while no ingest listens: nothing is stored yet
        forged = EventAck(device_id=device_id, outbox_epoch=device.outbox.epoch, up_to_seq=10**9)
        forger.publish(device_topic(device_id, Channel.EVENTS_ACK), forged.encode(), qos=1)
        assert eventually(lambda: device.acks_received == 1)
        assert device.outbox.pending == 50  # nothing deleted unsent
        assert any(
            "ignoring ack up to seq 1000000000" in record.getMessage() for record in caplog.records
        )

        device.record(5)  # the device keeps talking
        ingest.start()
        assert device.drained.wait(30), store.watermark(device_id, device.outbox.epoch)
        keys = [k for k in store.event_keys() if k[0] == device_id]
        assert [k[2] for k in keys] == list(range(1, 56))
        assert len({k[3] for k in keys}) == 55  # each exactly once
    finally:
        ingest.stop()
        forger.loop_stop()
        forger.disconnect()
        device.stop()
