"""The ingest's msgspec decoder agrees with the pydantic models of the contract: it reads
every batch the models write as the same values, and accepts nothing they refuse."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.protocol import (
    EventBatch,
    PlayData,
    PlayEvent,
    PlayOutcome,
    PromoClickedData,
    PromoClickedEvent,
    PromoShownData,
    PromoShownEvent,
    ProtocolError,
    SessionEndedData,
    SessionEndedEvent,
    SplashShownData,
    SplashShownEvent,
    TermsAcceptedData,
    TermsAcceptedEvent,
    parse,
)
from devices.protocol.events_wire import decode_batch

AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
VISITOR = "0123456789abcdef"


def _id(seq: int) -> str:
    return f"0190f3a1-0000-7000-8000-{seq:012x}"


def every_kind_of_event() -> EventBatch:
    """One event of each type with every optional field set, above seqs dropped."""
    at = [AT + timedelta(seconds=n) for n in range(7)]
    return EventBatch(
        device_id="riverton-library-sc-01",
        outbox_epoch="f" * 32,
        dropped_total=8,
        dropped=((1, 2), (4, 9)),  # the wire allows several ranges
        events=(
            PlayEvent(
                id=_id(11),
                seq=11,
                at=at[1],
                data=PlayData(
                    item_id="swim-1",
                    campaign_id="swim-school",
                    alert_id="storm-warning",
                    asset_sha256="e" * 64,
                    started_at=at[0],
                    ended_at=at[1],
                    shown_s=7.5,
                    scheduled_s=10,
                    outcome=PlayOutcome.INTERRUPTED,
                    reason="alert took over",
                ),
            ),
            SplashShownEvent(
                id=_id(12),
                seq=12,
                at=at[2],
                data=SplashShownData(client_hash=VISITOR, visitor_hash=VISITOR, language="vi"),
            ),
            TermsAcceptedEvent(
                id=_id(13),
                seq=13,
                at=at[3],
                data=TermsAcceptedData(
                    client_hash=VISITOR,
                    visitor_hash=VISITOR,
                    terms_version="2026-01",
                    language="ar",
                    newsletter_opt_in=True,
                    returning_within_days=7,
                ),
            ),
            PromoShownEvent(
                id=_id(14),
                seq=14,
                at=at[4],
                data=PromoShownData(client_hash=VISITOR, item_id="holiday-1", campaign_id="hols"),
            ),
            PromoClickedEvent(
                id=_id(15),
                seq=15,
                at=at[5],
                data=PromoClickedData(client_hash=VISITOR, item_id="h"),
            ),
            SessionEndedEvent(
                id=_id(17),
                seq=17,
                at=at[6],
                data=SessionEndedData(
                    client_hash=VISITOR, duration_s=1800, bytes_in=10, bytes_out=20, reason="idle"
                ),
            ),
        ),
    )


def as_values(decoded: object) -> object:
    return msgspec.to_builtins(decoded, builtin_types=(datetime,))


def model_values(batch: EventBatch) -> object:
    return {
        "schema": batch.schema_name,
        **batch.model_dump(exclude={"schema_name"}),
        "events": tuple(event.model_dump() for event in batch.events),
    }


def test_what_the_models_write_decodes_to_the_same_values():
    batch = every_kind_of_event()
    decoded = decode_batch(batch.encode())
    assert as_values(decoded) == model_values(batch)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("events", 0, "data", "item_id"), "swim-1\n", "events.0.data.item_id"),
        # patterns are checked a whole batch at a time, one value per line: a value with
        # a newline inside must not pass as two good ones
        (("events", 3, "data", "item_id"), "holiday-1\nholiday-2", "events.3.data.item_id"),
        (("events", 5, "id"), "0190f3a1-0000-7000-8000-00000000000G", "events.5.id"),
        (("events", 0, "data", "asset_sha256"), "E" * 64, "events.0.data.asset_sha256"),
        (("events", 0, "at"), "2026-12-01T09:30:00", "events.0.at"),  # no offset
        (("events", 1, "data", "visitor_hash"), "aa:bb:cc:dd:ee:ff", "events.1.data.visitor_hash"),
        (("events", 2, "data", "language"), "x" * 201, "events.2.data.language"),
        (("events", 0, "data", "shown_s"), -1, "events.0.data.shown_s"),
        (("events", 2, "data", "returning_within_days"), 0, "events.2.data.returning_within_days"),
        (
            ("events", 2, "data", "returning_within_days"),
            366,
            "events.2.data.returning_within_days",
        ),
        (("events", 3, "type"), "portal.unknown", "events.3.type"),
        (("events", 4, "seq"), 14, "events.4.seq"),  # not ascending
        (("dropped", 0, 0), 0, "dropped.0.0"),
        (("dropped", 1, 1), 11, "dropped"),  # reaches the batch's first event
        (("dropped", 1, 0), 2, "dropped"),  # overlaps the range before
        (("dropped", 0, 0), 3, "dropped"),  # ends before it starts
        (("events",), [], "events"),
        (("outbox_epoch",), "F" * 32, "outbox_epoch"),
        (("schema",), "ds.events/2", "schema"),
    ],
)
def test_a_batch_the_models_refuse_is_refused_naming_the_field(path, value, field):
    wire = json.loads(every_kind_of_event().encode())
    target = wire
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    payload = json.dumps(wire).encode()
    with pytest.raises(ProtocolError):
        parse(EventBatch, payload)
    with pytest.raises(ProtocolError) as refused:
        decode_batch(payload)
    assert refused.value.field == field


def test_numbers_in_strings_are_refused_though_the_models_coerce_them():
    wire = json.loads(every_kind_of_event().encode())
    wire["events"][0]["seq"] = "11"
    assert parse(EventBatch, json.dumps(wire)).events[0].seq == 11
    with pytest.raises(ProtocolError, match="Expected `int`"):
        decode_batch(json.dumps(wire).encode())


def test_unknown_fields_and_broken_json_are_refused():
    wire = json.loads(every_kind_of_event().encode())
    wire["events"][0]["data"]["mac"] = "aa:bb:cc:dd:ee:ff"
    with pytest.raises(ProtocolError, match="mac"):
        decode_batch(json.dumps(wire).encode())
    with pytest.raises(ProtocolError):
        decode_batch(b'{"schema": "ds.events/1", "events": [')


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=70),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out += _paths(child, (*prefix, index))
    return out


BASE = json.loads(every_kind_of_event().encode())
PATHS = _paths(BASE)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(PATHS), json_values), min_size=1, max_size=3))
def test_the_decoder_never_accepts_what_the_models_refuse(mutations):
    wire = copy.deepcopy(BASE)
    for path, value in mutations:
        target = wire
        try:
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation replaced a parent
    payload = json.dumps(wire).encode()
    try:
        decoded = decode_batch(payload)
    except ProtocolError:
        return  # stricter than the models is allowed
    model = parse(EventBatch, payload)  # must not raise
    assert as_values(decoded) == model_values(model)


def test_an_accept_without_the_new_fields_writes_what_an_older_cms_reads():
    # A CMS from before issue 16 refuses unknown fields: unset, they are left out.
    plain = TermsAcceptedData(
        client_hash=VISITOR, visitor_hash=VISITOR, terms_version="2026-01", language="en"
    )
    assert set(json.loads(plain.model_dump_json())) == {
        "client_hash",
        "visitor_hash",
        "terms_version",
        "language",
        "newsletter_opt_in",
    }
    back = plain.model_copy(update={"returning_within_days": 7})
    assert json.loads(back.model_dump_json())["returning_within_days"] == 7
