"""Who may do what: one table, used by the staff UI and the REST API alike (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from central_cms.models import Role


class Permission(StrEnum):
    READ = "read"
    SITE_WRITE = "site.write"
    WIFI_WRITE = "wifi.write"  # a site's Wi-Fi policy: limits, hours, walled garden (issue 16)
    PROFILE_WRITE = "profile.write"
    DEVICE_WRITE = "device.write"
    MEDIA_WRITE = "media.write"
    CAMPAIGN_WRITE = "campaign.write"  # create, edit, submit for approval
    CAMPAIGN_PUBLISH = "campaign.publish"  # publish when no approval is required
    CAMPAIGN_APPROVE = "campaign.approve"  # approve or reject pending campaigns
    CAMPAIGN_ARCHIVE = "campaign.archive"
    ALERT_WRITE = "alert.write"
    FEED_WRITE = "feed.write"  # live feeds (iCal, RSS, JSON, CSV) for widgets and the portal
    USER_WRITE = "user.write"
    AUDIT_READ = "audit.read"
    FLEET_EXPORT = "fleet.export"
    # Newsletter sign-ups are visitors' email addresses: list, export and delete them.
    NEWSLETTER = "newsletter.manage"
    # Upload software releases and roll them out to the fleet (issue 18).
    SOFTWARE_RELEASE = "software.release"
    # Visitors' feedback comments: delete one that should not be kept (issue 16).
    FEEDBACK_MODERATE = "feedback.moderate"


_EVERYTHING = frozenset(Permission)

POLICY: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: _EVERYTHING,
    Role.EDITOR: frozenset(
        {
            Permission.READ,
            Permission.MEDIA_WRITE,
            Permission.CAMPAIGN_WRITE,
            Permission.CAMPAIGN_PUBLISH,
            Permission.CAMPAIGN_ARCHIVE,
            Permission.ALERT_WRITE,
            Permission.FEED_WRITE,  # a site editor: their sites' feeds, not the city's
            # Communications staff send the newsletter (site editors: their sites only).
            # Approvers, IT and viewers have no need for visitors' addresses.
            Permission.NEWSLETTER,
            # They read the comments; a site editor moderates their sites' only.
            Permission.FEEDBACK_MODERATE,
        }
    ),
    Role.APPROVER: frozenset(
        {
            Permission.READ,
            Permission.CAMPAIGN_APPROVE,
            Permission.CAMPAIGN_PUBLISH,
            Permission.CAMPAIGN_ARCHIVE,
            Permission.ALERT_WRITE,
            Permission.AUDIT_READ,
        }
    ),
    Role.IT: frozenset(
        {
            Permission.READ,
            Permission.PROFILE_WRITE,
            Permission.DEVICE_WRITE,
            Permission.WIFI_WRITE,  # IT runs the Wi-Fi service
            Permission.FLEET_EXPORT,
            Permission.SOFTWARE_RELEASE,
            Permission.AUDIT_READ,
        }
    ),
    Role.VIEWER: frozenset({Permission.READ}),
}


@dataclass(frozen=True)
class Actor:
    """The person (or their API token) making a change."""

    username: str
    role: Role
    # Editors may be limited to some sites; empty means every site.
    sites: frozenset[str] = field(default_factory=frozenset)

    def can(self, permission: Permission) -> bool:
        return permission in POLICY[self.role]

    def covers_site(self, site_id: str) -> bool:
        return self.role is not Role.EDITOR or not self.sites or site_id in self.sites

    def covers_sites(self, site_ids: Iterable[str]) -> bool:
        return all(self.covers_site(site_id) for site_id in site_ids)

    @property
    def all_sites(self) -> bool:
        return self.role is not Role.EDITOR or not self.sites


class Forbidden(Exception):
    """The actor lacks a permission or a site; `reason` is shown to them."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def require(actor: Actor, permission: Permission, *, site_ids: Iterable[str] = ()) -> None:
    if not actor.can(permission):
        raise Forbidden(f"your role ({actor.role.value}) may not {permission.value}")
    outside = [site for site in site_ids if not actor.covers_site(site)]
    if outside:
        raise Forbidden(f"you may not work on site {', '.join(sorted(outside))}")
