"""``ds.release/1``: a software release offered to a channel, and how far it may roll out.

The CMS publishes one signed, retained release per channel on `release_topic` (issue 18).
A device follows the channel its manifest names, and installs the release only when the
signature verifies, the wheel's sha256 matches and the rollout includes it: named pilot
screens first, then a percentage of the rest chosen by a stable hash of the device id,
so raising the percentage only ever adds devices. A halted rollout installs nowhere new.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from devices.protocol.base import Frozen, Id, Message, ShortText, schema_field
from devices.protocol.manifest import AssetRef

# PEP 440 release versions as we publish them: 1.2.0, 1.2.0rc1, 1.2.0.post1 (no local part).
VERSION_PATTERN = r"^[0-9]+(\.[0-9]+){1,3}((a|b|rc)[0-9]+)?(\.post[0-9]+)?$"


class Rollout(Frozen):
    pilots: tuple[Id, ...] = ()  # these devices take the release first, whatever `percent` says
    percent: int = Field(default=0, ge=0, le=100)  # of the channel's other devices
    halted: bool = False  # a device failed with this release: nobody new installs it

    def includes(self, device_id: str) -> bool:
        """Whether the rollout, as it stands, offers the release to the device."""
        if self.halted:
            return False
        return device_id in self.pilots or rollout_bucket(device_id) < self.percent


class Release(Message):
    SCHEMA: ClassVar[str] = "ds.release/1"
    schema_name: Literal["ds.release/1"] = schema_field("ds.release/1")  # type: ignore[assignment]
    channel: Id
    version: str = Field(pattern=VERSION_PATTERN, max_length=40)
    wheel: AssetRef
    published_at: AwareDatetime
    rollout: Rollout = Rollout()
    notes: ShortText = ""


def rollout_bucket(device_id: str) -> int:
    """A device's place, 0-99, in every rollout: the same for every release and channel."""
    return int.from_bytes(hashlib.sha256(device_id.encode("utf-8")).digest()[:4], "big") % 100


class UpdateState(StrEnum):
    INSTALLING = "installing"  # downloading and installing beside the running version
    TRIAL = "trial"  # switched to it; waiting for its own health check
    ROLLED_BACK = "rolled_back"  # it did not come up healthy; back on the previous version
    FAILED = "failed"  # could not be installed (download, checksum, install); still on ours
    INSTALLED = "installed"  # came up healthy: the device now runs it


class UpdateReport(Frozen):
    """The device's latest update attempt, carried in its retained status for the CMS."""

    version: str = Field(pattern=VERSION_PATTERN, max_length=40)
    state: UpdateState
    detail: ShortText = ""
    at: AwareDatetime
