"""The MQTT topics of the contract: built and parsed here only, never spelled elsewhere."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from devices.protocol.errors import ProtocolError

PREFIX = "ds/v1"
ID_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
_ID = re.compile(ID_PATTERN)


class Channel(StrEnum):
    """The per-device topics, by the last part(s) of their name."""

    MANIFEST = "manifest"
    COMMANDS = "commands"
    COMMAND_RESULTS = "command-results"
    STATUS = "status"
    HEALTH = "health"
    EVENTS = "events"
    EVENTS_ACK = "events/ack"


# What the CMS alone publishes under a device's topics; a device may only read these.
CMS_TO_DEVICE = frozenset({Channel.MANIFEST, Channel.COMMANDS, Channel.EVENTS_ACK})
DEVICE_TO_CMS = frozenset(set(Channel) - CMS_TO_DEVICE)
ALL_SCOPE = "all"


def validate_id(value: str, what: str = "device") -> str:
    """A device or site id: lowercase letters, digits and inner '-', 1 to 64 characters."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ProtocolError(
            what,
            f"{value!r} is not a valid id: use 1-64 lowercase letters, digits and '-', "
            "not starting or ending with '-'",
        )
    return value


def device_topic(device_id: str, channel: Channel) -> str:
    return f"{PREFIX}/devices/{validate_id(device_id)}/{channel.value}"


def device_root(device_id: str) -> str:
    """The subtree a device owns: ``ds/v1/devices/{device}/``."""
    return f"{PREFIX}/devices/{validate_id(device_id)}/"


def alert_topic(scope: str) -> str:
    """``ds/v1/alerts/all`` or ``ds/v1/alerts/{site}``."""
    return f"{PREFIX}/alerts/{validate_id(scope, 'scope')}"


def all_devices(channel: Channel) -> str:
    """Wildcard subscription for one channel of every device."""
    return f"{PREFIX}/devices/+/{channel.value}"


def shared(group: str, topic_filter: str) -> str:
    """An MQTT 5 / Mosquitto shared subscription, so several consumers split the load."""
    return f"$share/{validate_id(group, 'group')}/{topic_filter}"


ALERTS_WILDCARD = f"{PREFIX}/alerts/+"


def feed_topic(feed_id: str) -> str:
    """``ds/v1/feeds/{feed}``: one retained, signed ``ds.feed/1`` per live feed (issue 14).
    Feeds hold public information (timetables, news), so every device may read them all."""
    return f"{PREFIX}/feeds/{validate_id(feed_id, 'feed')}"


FEEDS_WILDCARD = f"{PREFIX}/feeds/+"


def release_topic(channel: str) -> str:
    """``ds/v1/releases/{channel}``: the signed, retained software release of one channel
    (issue 18). Releases are not secret, so every device may read every channel's."""
    return f"{PREFIX}/releases/{validate_id(channel, 'channel')}"


RELEASES_WILDCARD = f"{PREFIX}/releases/+"


@dataclass(frozen=True)
class DeviceTopic:
    device_id: str
    channel: Channel


@dataclass(frozen=True)
class AlertTopic:
    scope: str


@dataclass(frozen=True)
class FeedTopic:
    feed_id: str


@dataclass(frozen=True)
class ReleaseTopic:
    channel: str


def parse_topic(topic: str) -> DeviceTopic | AlertTopic | FeedTopic | ReleaseTopic:
    """Which device and channel, or which alert scope, a topic names."""
    if not topic.startswith(PREFIX + "/"):
        raise ProtocolError("topic", f"{topic!r} is not under {PREFIX}/")
    rest = topic[len(PREFIX) + 1 :].split("/")
    if rest[0] == "alerts" and len(rest) == 2:
        return AlertTopic(validate_id(rest[1], "scope"))
    if rest[0] == "feeds" and len(rest) == 2:
        return FeedTopic(validate_id(rest[1], "feed"))
    if rest[0] == "releases" and len(rest) == 2:
        return ReleaseTopic(validate_id(rest[1], "channel"))
    if rest[0] == "devices" and len(rest) >= 3:
        device_id = validate_id(rest[1])
        try:
            channel = Channel("/".join(rest[2:]))
        except ValueError:
            raise ProtocolError("topic", f"unknown channel in {topic!r}") from None
        return DeviceTopic(device_id, channel)
    raise ProtocolError("topic", f"{topic!r} is not a topic of the contract")
