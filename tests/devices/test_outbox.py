"""The outbox: durable, budgeted, and complete through a broker that drops messages."""

from __future__ import annotations

from datetime import timedelta

import pytest

from devices.agent import DeviceAgent, RecordingSystem
from devices.broker import BrokerLimits, mosquitto_conf
from devices.clock import ManualClock
from devices.outbox import Outbox, OutboxSender, SenderSettings
from devices.protocol import EventAck, EventBatch, PlayData, PlayOutcome, SplashShownData, parse
from testkit.brokers import free_port, start_mosquitto
from testkit.harness import AckingConsumer, RecordingApp, device_config, unique_id
from testkit.messages import T0


def play(n: int) -> PlayData:
    return PlayData(
        item_id=f"item-{n}",
        started_at=T0,
        ended_at=T0 + timedelta(seconds=10),
        shown_s=10,
        scheduled_s=10,
        outcome=PlayOutcome.COMPLETED,
    )


def test_events_keep_their_sequence_and_ids_across_a_reopen(tmp_path, clock):
    outbox = Outbox(tmp_path / "o.db", device_id="sig-a", budget_bytes=1 << 20, clock=clock)
    assert [outbox.record(play(n)) for n in range(3)] == [1, 2, 3]
    epoch = outbox.epoch
    outbox.close()

    again = Outbox(tmp_path / "o.db", device_id="sig-a", budget_bytes=1 << 20, clock=clock)
    assert again.epoch == epoch
    assert again.record(play(3)) == 4
    payload, last = again.batch_after(0, 10)
    batch = parse(EventBatch, payload)
    assert last == 4
    assert [e.seq for e in batch.events] == [1, 2, 3, 4]
    assert len({e.id for e in batch.events}) == 4
    assert batch.outbox_epoch == epoch


def test_acknowledged_events_are_deleted_and_sequence_numbers_never_reused(tmp_path, clock):
    outbox = Outbox(tmp_path / "o.db", device_id="sig-a", budget_bytes=1 << 20, clock=clock)
    for n in range(5):
        outbox.record(play(n))
    assert outbox.acknowledge(5) == 5
    assert outbox.pending == 0
    assert outbox.record(play(6)) == 6


def test_full_outbox_drops_the_oldest_and_counts_them(tmp_path, clock):
    outbox = Outbox(tmp_path / "o.db", device_id="sig-a", budget_bytes=2000, clock=clock)
    for n in range(40):
        outbox.record(play(n))
    assert outbox.dropped_total > 0
    assert outbox.pending + outbox.dropped_total == 40
    payload, last = outbox.batch_after(0, 100)
    batch = parse(EventBatch, payload)
    assert last == 40  # the newest survive
    assert batch.dropped_total == outbox.dropped_total


def test_dropped_seqs_travel_with_every_batch_until_an_ack_passes_them(tmp_path, clock):
    outbox = Outbox(tmp_path / "o.db", device_id="sig-a", budget_bytes=2000, clock=clock)
    for n in range(40):
        outbox.record(play(n))
    first_kept = outbox.first_pending_seq()
    assert outbox.dropped_ranges() == [(1, first_kept - 1)]
    outbox.close()

    again = Outbox(tmp_path / "o.db", device_id="sig-a", budget_bytes=2000, clock=clock)
    payload, _ = again.batch_after(first_kept, 1)  # any batch, even a later one
    assert parse(EventBatch, payload).dropped == ((1, first_kept - 1),)
    again.acknowledge(first_kept)
    payload, _ = again.batch_after(first_kept, 1)
    assert parse(EventBatch, payload).dropped == ()
    assert again.dropped_total == first_kept - 1


def test_a_new_outbox_starts_a_new_epoch(tmp_path, clock):
    first = Outbox(tmp_path / "a.db", device_id="sig-a", budget_bytes=1 << 20, clock=clock)
    second = Outbox(tmp_path / "b.db", device_id="sig-a", budget_bytes=1 << 20, clock=clock)
    assert first.epoch != second.epoch


def test_sender_resends_from_the_gap_when_acks_stop_advancing(tmp_path, clock):
    outbox = Outbox(tmp_path / "o.db", device_id="sig-a", budget_bytes=1 << 20, clock=clock)
    for _ in range(10):
        outbox.record(SplashShownData(client_hash="ab" * 16, visitor_hash="cd" * 16, language="en"))
    sent: list[list[int]] = []
    now = [0.0]
    sender = OutboxSender(
        outbox,
        lambda payload: sent.append([e.seq for e in parse(EventBatch, payload).events]),
        SenderSettings(batch_events=3, window_events=9, resend_after_s=30),
        monotonic=lambda: now[0],
    )
    sender.pump()
    assert sent == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]  # the window holds back 10

    ack = EventAck(device_id="sig-a", outbox_epoch=outbox.epoch, up_to_seq=3)  # 4-6 were lost
    sender.on_ack(ack)
    sender.pump()
    assert sent[-1] == [10]
    now[0] = 29
    assert sender.pump() == pytest.approx(1)
    now[0] = 30
    sender.pump()
    assert sent[-3:] == [[4, 5, 6], [7, 8, 9], [10]]
    assert sender.resends == 1


def test_sender_ignores_acks_for_another_epoch(tmp_path, clock):
    outbox = Outbox(tmp_path / "o.db", device_id="sig-a", budget_bytes=1 << 20, clock=clock)
    outbox.record(play(1))
    sender = OutboxSender(outbox, lambda payload: None)
    sender.pump()
    sender.on_ack(EventAck(device_id="sig-a", outbox_epoch="f" * 32, up_to_seq=1))
    assert outbox.pending == 1


def test_sender_refuses_an_ack_beyond_what_was_ever_sent_and_believes_the_last_run(tmp_path, clock):
    outbox = Outbox(tmp_path / "o.db", device_id="sig-a", budget_bytes=1 << 20, clock=clock)
    for n in range(10):
        outbox.record(play(n))
    sender = OutboxSender(outbox, lambda payload: None, SenderSettings(window_events=6))
    sender.pump()  # 1-6 sent
    sender.on_ack(EventAck(device_id="sig-a", outbox_epoch=outbox.epoch, up_to_seq=7))
    assert (sender.acked, outbox.pending, sender.refused_acks) == (0, 10, 1)
    outbox.close()

    # After a restart the ack for what the last run sent still counts.
    again = Outbox(tmp_path / "o.db", device_id="sig-a", budget_bytes=1 << 20, clock=clock)
    restarted = OutboxSender(again, lambda payload: None)
    restarted.on_ack(EventAck(device_id="sig-a", outbox_epoch=again.epoch, up_to_seq=6))
    assert (restarted.acked, again.pending) == (6, 4)


def test_stream_through_a_dropping_broker_arrives_complete_and_exactly_once(tmp_path):
    """Mosquitto with a tiny queue drops QoS 1 messages for a slow subscriber; the
    contiguous ack never passes a gap, so the device's re-sends fill every one."""
    port = free_port()
    tiny = BrokerLimits(max_inflight_messages=1, max_queued_messages=2, max_queued_bytes=0)
    broker = start_mosquitto(
        tmp_path / "broker", mosquitto_conf(port=port, limits=tiny, allow_anonymous=True), port
    )
    consumer = AckingConsumer(port)
    device_id = unique_id("sig")
    app = RecordingApp()
    agent = DeviceAgent(
        _config(tmp_path, device_id, port),
        app,
        clock=ManualClock(T0),
        system=RecordingSystem(),
        sender_settings=SenderSettings(batch_events=5, window_events=400, resend_after_s=0.5),
    )
    try:
        agent.start()
        total = 1500
        for n in range(total):
            app.services.record(play(n))
        assert consumer.wait_for(lambda: consumer.acked(device_id) == total, timeout_s=120), (
            consumer.acked(device_id)
        )
        assert consumer.seqs(device_id) == list(range(1, total + 1))
        # The broker really dropped batches, and the re-sends filled the gaps.
        assert consumer.gaps_seen > 0
        assert agent.sender.resends > 0
    finally:
        agent.stop()
        consumer.close()
        broker.stop()


def _config(tmp_path, device_id, port):
    from devices.protocol import SigningKey

    return device_config(tmp_path, device_id, port=port, keys=[SigningKey.generate()])
