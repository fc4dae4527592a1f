"""The signage player: the DeviceApplication the agent drives.

One thread owns the screen. It asks the pure planner (`playback.step`) what shows now and
until when, shows it, records proof-of-play, then waits on an Event until that moment or
until the agent hands in a manifest, alerts or a command, whichever is first. Before
waiting it asks the planner what the next slot will be and renders that frame, so the
change itself is only a copy to the display.

Fail-black: a frame that cannot be made (asset missing or not matching its hash,
undecodable file) is never shown in part; roadside panels go black for that item's turn
and indoor screens skip to the next item. Anything unexpected in the loop blanks the
screen and is logged, and the loop goes on.
"""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import functools
import hashlib
import io
import logging
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from PIL import Image

from devices.app import AgentServices, CommandOutcome
from devices.protocol import (
    Alert,
    Command,
    CommandName,
    ItemKind,
    Manifest,
    NowShowing,
    ProfileKind,
)
from signage_player.brightness import Brightness, NoBrightness
from signage_player.display import Display
from signage_player.playback import (
    Inputs,
    PlayState,
    Screen,
    Slot,
    Step,
    finish,
    render_failed,
    step,
)
from signage_player.power import NoScreenPower, ScreenPower
from signage_player.render import (
    RenderError,
    Size,
    black,
    hex_colour,
    render_alert,
    render_identify,
    render_image,
    render_text_slide,
    with_qr,
)
from signage_player.settings import PlayerSettings
from signage_player.video import VideoBackend

log = logging.getLogger(__name__)

_FRAME_CACHE = 2  # the frame showing and the next one: 6 MB each at 1080p
_MAX_WAIT_S = 3600.0


class SignagePlayer:
    def __init__(
        self,
        display: Display,
        *,
        settings: PlayerSettings | None = None,
        brightness: Brightness | None = None,
        screen_power: ScreenPower | None = None,
        video: VideoBackend | None = None,
    ) -> None:
        self.display = display
        self.settings = settings or PlayerSettings()
        self.brightness = brightness or NoBrightness()
        self.screen_power = screen_power or NoScreenPower()
        self.video = video
        self._services: AgentServices | None = None
        self._lock = threading.Lock()
        self._inputs = Inputs(manifest=None, video_ok=video is not None)
        self._refresh = False
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._frames: OrderedDict[Hashable, Image.Image] = OrderedDict()
        self._now_showing: NowShowing | None = None
        # Held while a frame goes on screen with its `_now_showing`, and while a
        # screenshot reads both, so a screenshot says what its own frame is (issue 13/19).
        self._on_screen = threading.Lock()
        self._brightness: int | None = None
        self._idle = threading.Condition()
        self._parked = False
        self.frames_shown = 0

    # --- DeviceApplication ---------------------------------------------------------------

    def start(self, services: AgentServices) -> None:
        self._services = services
        self._thread = threading.Thread(
            target=self._run, name=f"player-{services.device_id}", daemon=True
        )
        self._thread.start()

    def apply_manifest(self, manifest: Manifest) -> None:
        with self._lock:
            # A new manifest is a fresh start for items that failed to render.
            self._inputs = replace(self._inputs, manifest=manifest, failed_items=frozenset())
        self._wake.set()

    def apply_alerts(self, alerts: Sequence[Alert]) -> None:
        with self._lock:
            self._inputs = replace(self._inputs, alerts=tuple(alerts))
        self._wake.set()

    def run_command(self, command: Command) -> CommandOutcome:
        name = command.name
        if name is CommandName.SCREENSHOT:
            return self._screenshot()
        if name is CommandName.REFRESH:
            with self._lock:
                self._refresh = True
                self._inputs = replace(self._inputs, failed_items=frozenset())
            self._wake.set()
            return CommandOutcome(ok=True, detail="frames re-rendered from the cache")
        if name in (CommandName.DISPLAY_ON, CommandName.DISPLAY_OFF):
            on = name is CommandName.DISPLAY_ON
            with self._lock:
                self._inputs = replace(self._inputs, display_on=on)
            self._wake.set()
            self.display.set_power(on)
            cec = self.settings.cec and self.screen_power.set_power(on)
            how = "HDMI-CEC " + ("on" if on else "standby") if cec else "output only (no HDMI-CEC)"
            return CommandOutcome(ok=True, detail=f"display {'on' if on else 'off'}: {how}")
        if name is CommandName.IDENTIFY:
            seconds = command.args.get("seconds", self.settings.identify_s)
            if isinstance(seconds, bool) or not isinstance(seconds, int | float):
                seconds = self.settings.identify_s
            seconds = min(max(float(seconds), 1.0), 300.0)
            until = self._clock_now() + timedelta(seconds=seconds)
            with self._lock:
                self._inputs = replace(self._inputs, identify_until=until)
            self._wake.set()
            return CommandOutcome(ok=True, detail=f"identifying for {seconds:g} s")
        return CommandOutcome(ok=False, detail=f"{name.value} is not something a player does")

    def now_showing(self) -> NowShowing | None:
        return self._now_showing

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # --- for tests, the demo and the bench ------------------------------------------------

    def wake(self) -> None:
        """Look again now (a test moved its manual clock)."""
        with self._idle:
            self._parked = False
        self._wake.set()

    def wait_until_idle(self, timeout_s: float = 5.0) -> bool:
        """Wait until the thread has acted on everything handed to it and is waiting for
        its next moment (the next frame already prepared)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._parked and not self._wake.is_set(), timeout_s)

    # --- the loop ------------------------------------------------------------------------

    def _clock_now(self) -> datetime:
        assert self._services is not None
        return self._services.clock.now()

    def _run(self) -> None:
        services = self._services
        assert services is not None
        state = PlayState()
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                state, wake_at = self._turn(services, state)
                timeout = (wake_at - services.clock.now()).total_seconds()
            except Exception:
                log.exception("player loop failed; showing black")
                self._show_black()
                state, timeout = PlayState(), 1.0
            with self._idle:
                self._parked = True
                self._idle.notify_all()
            self._wake.wait(min(max(timeout, 0.0), _MAX_WAIT_S))
            with self._idle:
                self._parked = False
        state, events = finish(state, services.clock.now())
        for event in events:
            services.record(event)
        if self.video is not None:
            self.video.stop()
        self._show_black()

    def _turn(self, services: AgentServices, state: PlayState) -> tuple[PlayState, datetime]:
        now = services.clock.now()
        with self._lock:
            inputs = self._inputs
            refresh, self._refresh = self._refresh, False
        if refresh:
            self._frames.clear()
        result = step(inputs, state, now)
        for event in result.events:
            services.record(event)
        if result.changed or refresh:
            result = self._present(services, inputs, result, now)
        if result.brightness is not None and result.brightness != self._brightness:
            self.brightness.set_percent(result.brightness)
            self._brightness = result.brightness
            log.info("brightness %d%%", result.brightness)
        self._prepare_next(services, inputs, result)
        return result.state, result.wake_at

    def _present(
        self, services: AgentServices, inputs: Inputs, result: Step, now: datetime
    ) -> Step:
        """Show the slot the planner chose; on a render error, ask it what instead."""
        for _ in range(20):  # each failure removes an item, so this ends; bound it anyway
            slot = result.state.slot
            assert slot is not None
            try:
                frame = self._frame(services, inputs, slot)
            except RenderError as error:
                log.warning("cannot show %s: %s", _describe(slot), error)
                inputs, result = render_failed(inputs, result.state, now)
                with self._lock:
                    self._inputs = replace(
                        self._inputs,
                        failed_items=self._inputs.failed_items | inputs.failed_items,
                    )
                continue
            self._show(inputs.manifest, slot, frame, services)
            return result
        self._show_black()
        return result

    def _show(
        self,
        manifest: Manifest | None,
        slot: Slot,
        frame: Image.Image,
        services: AgentServices,
    ) -> None:
        roadside = manifest is not None and manifest.profile.kind is ProfileKind.ROADSIDE
        if self.video is not None:
            item = slot.item
            if slot.screen is Screen.ITEM and item is not None and item.kind is ItemKind.VIDEO:
                path = services.assets.path(item.asset or "")
                if path is not None:
                    self.video.play(path)
            else:
                self.video.stop()
        item, alert = slot.item, slot.alert
        with self._on_screen:
            self.display.show(frame, pixel_exact=roadside)
            self._now_showing = NowShowing(
                item_id=item.id if item else alert.id if alert else None,
                campaign_id=item.campaign_id if item else None,
                alert_id=alert.id if alert else None,
                since=slot.started_at,
            )
        self.frames_shown += 1
        log.debug("showing %s", _describe(slot))
        services.status_changed()

    def _show_black(self) -> None:
        try:
            self.display.blank()
        except Exception:
            log.exception("cannot even blank the display")

    def _prepare_next(self, services: AgentServices, inputs: Inputs, result: Step) -> None:
        """Render the next slot's frame now, so its change is instant."""
        try:
            ahead = step(inputs, result.state, result.wake_at)
            if ahead.changed and ahead.state.slot is not None:
                self._frame(services, inputs, ahead.state.slot)
        except RenderError:
            pass  # it will fail again on its turn and be handled then
        except Exception:
            log.exception("preparing the next frame failed")

    # --- frames --------------------------------------------------------------------------

    def _canvas(self, manifest: Manifest | None) -> Size:
        if manifest is None:
            return self.settings.output or self.display.mode
        return (manifest.profile.width_px, manifest.profile.height_px)

    def _frame(self, services: AgentServices, inputs: Inputs, slot: Slot) -> Image.Image:
        manifest = inputs.manifest
        canvas = self._canvas(manifest)
        roadside = manifest is not None and manifest.profile.kind is ProfileKind.ROADSIDE
        key: Hashable
        if slot.screen is Screen.ITEM and slot.item is not None and manifest is not None:
            key = ("item", slot.item, canvas, roadside, manifest.site.brand_colour)
        elif slot.screen is Screen.ALERT and slot.alert is not None:
            key = ("alert", slot.alert.id, slot.alert.order, canvas, roadside)
        elif slot.screen is Screen.IDENTIFY:
            key = ("identify", manifest.site.name if manifest else "", canvas)
        else:
            return black(canvas)
        cached = self._frames.get(key)
        if cached is not None:
            self._frames.move_to_end(key)
            return cached
        frame = self._render(services, manifest, slot, canvas, roadside)
        self._frames[key] = frame
        while len(self._frames) > _FRAME_CACHE:
            self._frames.popitem(last=False)
        _release_freed_memory()
        return frame

    def _render(
        self,
        services: AgentServices,
        manifest: Manifest | None,
        slot: Slot,
        canvas: Size,
        roadside: bool,
    ) -> Image.Image:
        if slot.screen is Screen.ALERT and slot.alert is not None:
            return render_alert(slot.alert, canvas, title_only=roadside)
        if slot.screen is Screen.IDENTIFY:
            site = manifest.site.name if manifest else "no manifest yet"
            return render_identify(services.device_id, site, canvas)
        item = slot.item
        assert item is not None and manifest is not None
        if item.kind is ItemKind.TEXT:
            assert item.text is not None
            frame = render_text_slide(item.text, canvas, title_only=roadside)
        elif item.kind is ItemKind.VIDEO:
            return black(canvas)  # mpv draws over it
        else:
            data = _verified(services, item.asset or "")
            frame = render_image(
                data, canvas, item.fit, bars=hex_colour(manifest.site.brand_colour)
            )
        return with_qr(frame, None if roadside else item.qr)

    def _screenshot(self) -> CommandOutcome:
        with self._on_screen:
            png = self.display.screenshot()
            showing = self._now_showing
        image = Image.open(io.BytesIO(png))
        limit = self.settings.screenshot_max_px
        if max(image.size) > limit:
            image.thumbnail((limit, limit), Image.Resampling.LANCZOS)
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            png = buffer.getvalue()
        return CommandOutcome(
            ok=True,
            detail=f"{image.width}x{image.height} PNG",
            data={
                "content_type": "image/png",
                "width_px": image.width,
                "height_px": image.height,
                "png_base64": base64.b64encode(png).decode("ascii"),
                # What this very frame is, so the CMS never pairs it with a later status.
                "showing_item_id": showing.item_id if showing else None,
                "showing_campaign_id": showing.campaign_id if showing else None,
                "showing_alert_id": showing.alert_id if showing else None,
                "showing_since": showing.since.isoformat() if showing else None,
            },
        )


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def _release_freed_memory() -> None:
    """Give the decoder's freed buffers back to the OS. A 12-megapixel JPEG decodes into
    tens of MB that glibc would otherwise keep in its heap: on a Pi that is memory the
    player holds for nothing (issue 5 target: 80 MB steady state)."""
    trim = getattr(_libc(), "malloc_trim", None)  # glibc only
    if trim is not None:
        trim(0)


def _verified(services: AgentServices, sha256: str) -> bytes:
    """The asset's bytes, re-hashed before they are decoded: the cache verified the file
    when it was installed, but a frame on a roadside screen is worth one more check to
    rule out a file changed or damaged on disk since. The bytes hashed are the bytes
    decoded, so nothing can change in between."""
    path = services.assets.path(sha256)
    if path is None:
        raise RenderError(f"asset {sha256[:12]} is not in the cache")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise RenderError(f"asset {sha256[:12]}: {error}") from error
    if hashlib.sha256(data).hexdigest() != sha256:
        raise RenderError(f"asset {sha256[:12]} does not match its hash; not shown")
    return data


def _describe(slot: Slot) -> str:
    if slot.item is not None:
        return f"item {slot.item.id}"
    if slot.alert is not None:
        return f"alert {slot.alert.id}"
    return f"{slot.screen.value} ({slot.reason.value if slot.reason else ''})"
