from __future__ import annotations

import contextlib
import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.protocol import (
    MESSAGE_TYPES,
    Alert,
    Channel,
    DeviceTopic,
    EventAck,
    EventBatch,
    Manifest,
    ProtocolError,
    SignatureError,
    SigningKey,
    alert_topic,
    canonical_json,
    device_topic,
    loads,
    parse,
    parse_signed,
    parse_topic,
    sign,
    verify,
)
from devices.protocol.cli import schema_documents
from devices.protocol.signing import signed_body
from testkit.messages import T0, manifest

ROOT = Path(__file__).resolve().parents[2]


def test_topics_round_trip_and_refuse_bad_device_ids():
    topic = device_topic("sig-riverton-01", Channel.EVENTS_ACK)
    assert topic == "ds/v1/devices/sig-riverton-01/events/ack"
    assert parse_topic(topic) == DeviceTopic("sig-riverton-01", Channel.EVENTS_ACK)
    assert alert_topic("all") == "ds/v1/alerts/all"
    for bad in ["Sig-01", "sig/01", "+", "#", "", "-sig", "a" * 65, "sig 01"]:
        with pytest.raises(ProtocolError) as caught:
            device_topic(bad, Channel.STATUS)
        assert caught.value.field == "device"


def test_manifest_round_trips_through_its_wire_form():
    original = manifest()
    assert parse(Manifest, original.encode()) == original


def test_parse_names_the_field_at_fault():
    wire = manifest().to_json()
    wire["items"][0]["duration_s"] = -3
    with pytest.raises(ProtocolError) as caught:
        parse(Manifest, json.dumps(wire))
    assert caught.value.field == "items.0.duration_s"

    wire = manifest().to_json()
    wire["surprise"] = 1
    with pytest.raises(ProtocolError) as caught:
        parse(Manifest, json.dumps(wire))
    assert caught.value.field == "surprise"


def test_wrong_schema_version_is_refused_with_both_names():
    wire = manifest().to_json()
    wire["schema"] = "ds.manifest/2"
    with pytest.raises(ProtocolError, match=r"expected 'ds.manifest/1', got 'ds.manifest/2'"):
        parse(Manifest, json.dumps(wire))


def test_item_pointing_at_missing_asset_is_refused():
    wire = manifest().to_json()
    wire["assets"] = []
    with pytest.raises(ProtocolError, match="asset not in `assets`"):
        parse(Manifest, json.dumps(wire))


def test_signed_manifest_verifies_and_any_change_breaks_it():
    key = SigningKey.generate()
    payload = sign(manifest(), key)
    assert parse_signed(Manifest, payload, [key.public_key]) == manifest()

    tampered = json.loads(payload)
    tampered["items"][0]["duration_s"] = 11
    with pytest.raises(SignatureError, match="altered"):
        parse_signed(Manifest, json.dumps(tampered), [key.public_key])


def test_manifest_signed_by_another_key_or_unsigned_is_refused():
    ours, theirs = SigningKey.generate(), SigningKey.generate()
    with pytest.raises(SignatureError, match="does not trust"):
        parse_signed(Manifest, sign(manifest(), theirs), [ours.public_key])
    with pytest.raises(SignatureError, match="unsigned"):
        parse_signed(Manifest, manifest().encode(), [ours.public_key])


def test_signature_survives_reformatting_of_the_json():
    key = SigningKey.generate()
    pretty = json.dumps(json.loads(sign(manifest(), key)), indent=4)
    assert parse_signed(Manifest, pretty, [key.public_key]).version == 1


def test_signing_key_survives_pem_round_trip():
    key = SigningKey.generate()
    again = SigningKey.from_pem(key.to_pem())
    assert again.public_key == key.public_key
    assert again.public_key.to_text().startswith("ed25519:")


def test_event_batch_must_be_in_sequence_order():
    def event(seq: int) -> dict[str, object]:
        return {
            "id": str(uuid.uuid4()),
            "seq": seq,
            "at": T0.isoformat(),
            "type": "portal.splash_shown",
            "data": {"client_hash": "ab" * 16, "visitor_hash": "cd" * 16, "language": "en"},
        }

    batch = {
        "schema": "ds.events/1",
        "device_id": "portal-a",
        "outbox_epoch": "0" * 32,
        "events": [event(2), event(1)],
    }
    with pytest.raises(ProtocolError, match="ascending"):
        parse(EventBatch, json.dumps(batch))
    batch["events"] = [event(1), event(2)]
    assert [e.seq for e in parse(EventBatch, json.dumps(batch)).events] == [1, 2]


def test_a_raw_mac_cannot_be_carried_as_a_visitor_hash():
    batch = {
        "schema": "ds.events/1",
        "device_id": "portal-a",
        "outbox_epoch": "0" * 32,
        "events": [
            {
                "id": str(uuid.uuid4()),
                "seq": 1,
                "at": T0.isoformat(),
                "type": "portal.splash_shown",
                "data": {
                    "client_hash": "aa:bb:cc:dd:ee:ff",
                    "visitor_hash": "cd" * 16,
                    "language": "en",
                },
            }
        ],
    }
    with pytest.raises(ProtocolError) as caught:
        parse(EventBatch, json.dumps(batch))
    assert caught.value.field.endswith("client_hash")


def test_alert_is_active_only_between_issue_and_expiry_and_not_when_cleared():
    alert = Alert(
        id="pool-closed",
        scope="cannington-lp",
        title="Pool closed",
        issued_at=T0,
        expires_at=T0 + timedelta(hours=2),
    )
    assert alert.active_at(T0 + timedelta(minutes=1))
    assert not alert.active_at(T0 + timedelta(hours=2))
    assert not alert.model_copy(update={"cleared": True}).active_at(T0)


def test_exported_json_schemas_are_current():
    """Run `digital-spaces protocol export-schemas` when this fails."""
    expected = schema_documents()
    folder = ROOT / "docs" / "protocol"
    on_disk = {path.name: path.read_text(encoding="utf-8") for path in folder.glob("*.json")}
    assert on_disk == expected


def test_every_message_type_has_a_distinct_schema_name():
    names = [model.SCHEMA for model in MESSAGE_TYPES]
    assert len(names) == len(set(names))


# Arbitrary bytes must never raise anything but the parser's own error (foundation issue).
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_parsers_raise_only_protocol_errors_on_arbitrary_bytes(payload):
    for model in MESSAGE_TYPES:
        with contextlib.suppress(ProtocolError):
            parse(model, payload)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_canonical_json_round_trips_and_is_stable(value):
    encoded = canonical_json(value)
    assert canonical_json(loads(encoded)) == encoded


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(list(manifest().to_json())), json_values, max_size=4))
def test_mutated_manifests_raise_only_protocol_errors(changes):
    wire = manifest().to_json() | changes
    with contextlib.suppress(ProtocolError):
        parse(Manifest, json.dumps(wire))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=256))
def test_signed_parser_raises_only_protocol_errors(payload):
    key = SigningKey.generate()
    for model in (Manifest, Alert, EventAck):
        with contextlib.suppress(ProtocolError):
            parse_signed(model, payload, [key.public_key])


def test_ack_watermark_never_passes_a_gap_until_it_is_filled():
    from devices.protocol.acks import AckWatermark

    watermark = AckWatermark()
    assert watermark.add([1, 2, 3]) == 3
    assert watermark.add([5, 6]) == 3  # 4 lost on the way
    assert watermark.gaps
    assert watermark.add([5]) == 3  # a duplicate changes nothing
    assert watermark.add([4]) == 6  # the re-send fills the gap
    assert not watermark.gaps


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=60), max_size=80))
def test_ack_watermark_is_the_longest_stored_prefix(arrivals):
    from devices.protocol.acks import AckWatermark

    watermark = AckWatermark()
    for seq in arrivals:
        watermark.add([seq])
    stored = set(arrivals)
    expected = 0
    while expected + 1 in stored:
        expected += 1
    assert watermark.up_to_seq == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(min_value=1, max_value=80), max_size=20), max_size=8))
def test_ack_watermark_kept_as_ranges_knows_every_stored_seq_after_a_reload(batches):
    """The store keeps (watermark, ranges above it) between batches and processes."""
    from devices.protocol.acks import AckWatermark

    stored: set[int] = set()
    watermark = AckWatermark()
    for seqs in batches:
        reloaded = AckWatermark(watermark.up_to_seq, watermark.above)
        assert [reloaded.holds(seq) for seq in range(1, 82)] == [
            seq in stored for seq in range(1, 82)
        ]
        watermark = reloaded
        watermark.add(seqs)
        stored |= set(seqs)
    assert len(watermark.above) <= len(stored)


seq_ranges = st.lists(
    st.tuples(st.integers(min_value=1, max_value=80), st.integers(min_value=0, max_value=10)),
    max_size=4,
).map(lambda pairs: [(first, first + length) for first, length in pairs])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.lists(st.integers(1, 90), max_size=20), seq_ranges), max_size=8))
def test_dropped_ranges_pass_the_watermark_and_count_only_what_was_never_stored(steps):
    """Issue 13.4: seqs the device dropped unsent are done, not stored; a seq counts as
    lost once, and only if it was not stored before."""
    from devices.protocol.acks import AckWatermark

    done: set[int] = set()
    lost_total = 0
    watermark = AckWatermark()
    for stored, dropped in steps:
        watermark = AckWatermark(watermark.up_to_seq, watermark.above)  # as a store reloads
        skipped = {seq for first, last in dropped for seq in range(first, last + 1)}
        assert watermark.skip(dropped) == len(skipped - done)
        lost_total += len(skipped - done)
        watermark.add(stored)
        done |= skipped | set(stored)
        expected = 0
        while expected + 1 in done:
            expected += 1
        assert watermark.up_to_seq == expected
        assert all(watermark.holds(seq) == (seq in done) for seq in range(1, 100))
    assert lost_total <= len(done)


def test_time_of_day_with_an_offset_is_refused():
    wire = manifest().to_json()
    wire["items"][0]["schedules"][0]["windows"][0]["start"] = "07:00:00+08:00"
    with pytest.raises(ProtocolError) as caught:
        parse(Manifest, json.dumps(wire))
    assert caught.value.field == "items.0.schedules.0.windows.0.start"


def test_signed_but_invalid_content_is_refused_naming_the_field():
    key = SigningKey.generate()
    wire = manifest().to_json()
    wire["items"][0]["duration_s"] = -1
    payload = canonical_json(key.sign(wire))
    with pytest.raises(ProtocolError) as refused:
        parse_signed(Manifest, payload, [key.public_key])
    assert refused.value.field == "items.0.duration_s"


@pytest.mark.parametrize(
    "content",
    [{"text": "x", "zz": 1}, {"a": 1, "text": "x"}, {"a": 1, "b": [2]}, {}],
    ids=["signature first", "in the middle", "last", "alone"],
)
def test_received_bytes_verify_wherever_the_signature_member_sits(content):
    key = SigningKey.generate()
    signed = canonical_json(key.sign(content))
    assert loads(signed_body(signed, [key.public_key])) == content
    altered = signed.replace(b'"x"', b'"y"').replace(b"1", b"3")
    if altered != signed:
        assert signed_body(altered, [key.public_key]) is None


def test_a_nested_signature_lookalike_falls_back_to_the_general_check():
    key = SigningKey.generate()
    decoy = {"alg": "ed25519", "key_id": key.public_key.key_id, "value": "A" * 86 + "=="}
    content = {"a": {"signature": decoy}, "text": 'quoted "signature":{"alg":"ed25519"}'}
    signed = canonical_json(key.sign(content))
    # Cutting the nested member gives bytes nobody signed: the fast check declines...
    assert signed_body(signed, [key.public_key]) is None
    # ...and the general check over the canonical form still accepts the real signature.
    assert verify(loads(signed), [key.public_key]) == content
