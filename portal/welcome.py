"""A returning visitor let straight online from the splash request (issue 16, splash
frequency; who counts as returning is `portal.returning`'s).

openNDS sends the phone to the splash as at every visit. When the site's policy lets it
skip the terms, the node does what an accept does, server-side: it checks openNDS knows
the client (the FAS query is openNDS's, for this client now), authorises it through the
same gateway call with the policy's `ClientLimits`, and records `portal.terms_accepted`
with `returning_within_days`, so the Wi-Fi reports count the session and the visitor as
an accept would. The browser then goes, as after an accept, to the portal's "you are
online" page, here headed "Welcome back": it says why the terms were not shown, holds
them one tap away, and links on to where the visitor was going.

Not let through, the visitor sees the splash as usual: outside service hours (the
closed page comes first), under a warning or emergency alert (it must be read), or when
openNDS is busy or does not know the client (the accept then handles it as ever).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from devices.protocol import TermsAcceptedData
from portal.config import PortalConfig
from portal.feedback import fresh_online_url
from portal.gateway import Gateway, GatewayError
from portal.impressions import Pseudonyms
from portal.nonces import UsedForms
from portal.responses import Page, security_headers
from portal.returning import ReturningVisitors
from portal.signing import Signer
from portal.sources import Recorder
from portal.view import SplashView
from portal.visit import Visit
from portal.wifi_policy import ClientLimits

log = logging.getLogger(__name__)

# On the "you are online" link: the page greets a returning visitor (cosmetic only).
WELCOME_BACK_ARG = "back"


def redirect_page(location: str) -> Page:
    """A 303 as a `Page`, so GET / answers it from the fast path and from Flask alike."""
    return Page(
        303,
        (
            ("Location", location),
            ("Content-Length", "0"),
            ("Cache-Control", "no-store"),
            *security_headers((), ""),
        ),
        b"",
    )


class WelcomeBack:
    def __init__(
        self,
        config: PortalConfig,
        *,
        gateway: Gateway,
        returning: ReturningVisitors,
        used_forms: UsedForms,
        pseudonyms: Pseudonyms,
        signer: Signer,
        recorder: Recorder,
        limits: Callable[[], ClientLimits],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._gateway = gateway
        self._returning = returning
        self._used_forms = used_forms
        self._pseudonyms = pseudonyms
        self._signer = signer
        self._recorder = recorder
        self._limits = limits
        self._monotonic = monotonic

    def accepted(self, mac: str, view: SplashView, now: datetime) -> None:
        """A visitor ticked the box: remembered for the policy's N days, if it has one."""
        self._returning.accepted(mac, now, view.splash_every_days, view.terms_version)

    def page(self, visit: Visit, view: SplashView, language: str, now: datetime) -> Page | None:
        """The redirect to the welcome-back page for a visitor let online; None: show
        the splash as usual. Call it inside service hours only."""
        every_days = view.splash_every_days
        if view.alert is not None and view.alert.replaces_content:
            return None
        client = visit.client
        if not self._returning.let_through(client.client_mac, now, every_days, view.terms_version):
            return None
        assert every_days is not None  # let_through says no without it
        started = self._monotonic()
        client_h, visitor_h = self._pseudonyms.of(client, now)
        url = fresh_online_url(
            self._signer,
            self._config.portal_url,
            language,
            (client_h, visitor_h),
            visit.origin,
            now,
        )
        try:
            if not self._gateway.verify(client):
                log.info(
                    "returning visitor not let through: openNDS does not know %s", client.client_ip
                )
                return None
            target = self._gateway.authorise(client, f"{url}&{WELCOME_BACK_ARG}=1", self._limits())
        except GatewayError as error:  # GatewayBusy too: the splash, and its accept, then
            log.info("returning visitor shown the terms: %s", error)
            return None
        # The mini-browser and the OS probe may both load the splash: one accept per
        # openNDS session (its token's hid), however often it is loaded.
        if self._used_forms.use_once(
            f"returning:{client.hid}", now.timestamp(), self._config.state_max_age_s
        ):
            self._recorder.record(
                TermsAcceptedData(
                    client_hash=client_h,
                    visitor_hash=visitor_h,
                    terms_version=view.terms_version,
                    language=language,
                    authorise_wait_s=round(max(0.0, self._monotonic() - started), 3),
                    returning_within_days=every_days,
                )
            )
        return redirect_page(target)
