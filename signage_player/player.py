"""The signage player: the DeviceApplication the agent drives.

One thread owns the screen. It asks the pure planner (`zones.step_screen`, which runs
`playback.step` for each zone of the layout) what shows now and until when, shows it,
records proof-of-play, then waits on an Event until that moment or until the agent hands
in a manifest, alerts, feed data or a command, whichever is first. Before waiting it asks
the planner what each zone's next slot will be and renders that tile, so the change
itself is only a paste and a copy to the display.

The frame is composed of one tile per zone (a screen without a layout is one zone): a
tile is redrawn only when what decides its pixels changes (`tiles.tile_key`), and the
display is told which box changed. What beats the schedule (an alert, identify, black)
takes the whole screen as before.

Fail-black: a frame that cannot be made (asset missing or not matching its hash,
undecodable file) is never shown in part; roadside panels go black for that item's turn
and indoor screens skip to the next item. Anything unexpected in the loop blanks the
screen and is logged, and the loop goes on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from PIL import Image

from devices.device_kind import AgentServices, CommandOutcome
from devices.protocol import (
    Alert,
    Command,
    CommandName,
    DisplayPower,
    Manifest,
    NowShowing,
    ProfileKind,
)
from signage_player.brightness import Brightness, NoBrightness
from signage_player.display import Display
from signage_player.frames import Frames, map_images_apart
from signage_player.panel import panel_box, panel_power, to_panel
from signage_player.playback import Inputs, Screen, Slot, render_failed, step
from signage_player.player_screen import PlayerScreen, describe, feeds_at, video_file
from signage_player.power import NoScreenPower, ScreenPower
from signage_player.render import RenderError
from signage_player.screenshot import screenshot_outcome
from signage_player.settings import PlayerSettings
from signage_player.tiles import TileKey, compose, tile_key
from signage_player.video import VideoBackend
from signage_player.video_handover import VideoHandover
from signage_player.zones import (
    ScreenState,
    ScreenStep,
    ZonePlan,
    finish_screen,
    is_override,
    step_screen,
    with_zone,
    zone_inputs,
)

log = logging.getLogger(__name__)

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
        self._handover = VideoHandover(video) if video is not None else None
        self._services: AgentServices | None = None
        self._lock = threading.Lock()
        self._inputs = Inputs(manifest=None, video_ok=video is not None)
        self._refresh = False
        self._wake = threading.Event()
        if video is not None:
            video.watch(self._wake.set)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.frames = Frames()
        self._screen: PlayerScreen | None = None
        # The tiles on screen, by zone; None while what shows is not made of tiles.
        self._tiles_on_screen: dict[str, TileKey] | None = None
        self._composed: Image.Image | None = None
        self._now_showing: NowShowing | None = None
        # Held while a frame goes on screen with its `_now_showing`, and while a
        # screenshot reads both, so a screenshot says what its own frame is (issue 13/19).
        self._on_screen = threading.Lock()
        self._brightness: int | None = None
        # What the panel was last asked to be (issue 18): the loop switches it with the
        # power schedule, the display on/off commands switch it at once.
        self._power_lock = threading.Lock()
        self._panel: DisplayPower = DisplayPower.ON
        self._idle = threading.Condition()
        self._parked = False
        self.frames_shown = 0

    # --- DeviceApplication ---------------------------------------------------------------

    def start(self, services: AgentServices) -> None:
        self._services = services
        # A new copy of a feed redraws the zones that show it now, not at their next
        # 30 s recheck (widgets.FEED_RECHECK); zones that do not show it keep their tile.
        services.feeds.on_change(lambda _feed_id: self.feeds_changed())
        map_images_apart()
        if self.video is not None:
            self.video.start()  # mpv's start-up is not taken out of the first item's turn
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

    def feeds_changed(self) -> None:
        """The feed store has new data (or dropped old data): widgets look again now."""
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
            powered = self._switch_panel(DisplayPower.ON if on else DisplayPower.OFF, force=True)
            self._wake.set()
            label = self.screen_power.label
            how = f"{label} {'on' if on else 'standby'}" if powered else f"output only ({label})"
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

    def zones_on_screen(self) -> dict[str, TileKey]:
        """What each zone of the frame on screen was drawn from, by zone: its item and, for
        a widget, the words drawn (`key.view`). Empty while something takes the whole
        screen (an alert, black) or the screen has no layout."""
        with self._on_screen:
            return dict(self._tiles_on_screen or {})

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
        state = ScreenState()
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                state, wake_at = self._turn(services, state)
                timeout = (wake_at - services.clock.now()).total_seconds()
            except Exception:
                log.exception("player loop failed; showing black")
                self._show_black()
                state, timeout = ScreenState(), 1.0
            with self._idle:
                self._parked = True
                self._idle.notify_all()
            self._wake.wait(min(max(timeout, 0.0), _MAX_WAIT_S))
            with self._idle:
                self._parked = False
        zoned = self._screen is not None and self._screen.zoned
        for event in finish_screen(state, services.clock.now(), zoned=zoned):
            services.record(event)
        self._show_black()
        if self._handover is not None:
            self._handover.close()

    def _screen_of(self, manifest: Manifest | None) -> PlayerScreen:
        """The zones and look of `manifest`, worked out once per manifest."""
        if self._screen is not None and self._screen.manifest is manifest:
            return self._screen
        screen = PlayerScreen.of(
            manifest, self.settings.output or self.display.mode, mpv=self._handover is not None
        )
        self._screen = screen
        if self.video is not None:  # mpv turns video and stills as the frames are turned
            self.video.rotate(manifest.rotation_deg if manifest is not None else 0)
        self.frames.keep_zones(plan.name for plan in screen.plans)
        self._tiles_on_screen = None  # a new manifest redraws every zone it still has
        return screen

    def _turn(self, services: AgentServices, state: ScreenState) -> tuple[ScreenState, datetime]:
        now = services.clock.now()
        with self._lock:
            inputs = self._inputs
            refresh, self._refresh = self._refresh, False
        if refresh:
            self.frames.clear()
            self._tiles_on_screen = None
        screen = self._screen_of(inputs.manifest)
        result = step_screen(inputs, screen.plans, state, now)
        # What ended is recorded once the next is on screen: an item played by mpv then
        # has mpv's own end, and its proof-of-play the time mpv had it on screen.
        handover = self._handover
        ended, on_mpv = result.events, handover.showing if handover is not None else None
        result, redraw_at = self._present(services, inputs, screen, result, now, refresh)
        for event in ended:
            services.record(handover.proof(event, on_mpv) if handover is not None else event)
        # After the frame is out: an alert is on the framebuffer while the TV wakes over
        # HDMI-CEC (a second or two), rather than waiting for it.
        self._switch_panel(panel_power(result.main.state.slot))
        brightness = result.main.brightness
        if brightness is not None and brightness != self._brightness:
            self.brightness.set_percent(brightness)
            self._brightness = brightness
            log.info("brightness %d%%", brightness)
        self._prepare_next(services, inputs, screen, result)
        wake_at = min(result.wake_at, redraw_at)
        if handover is not None:  # a video's turn ends when mpv ends it
            wake_at = handover.wake_at(result.main.state.slot, wake_at)
        return result.state, wake_at

    def _present(
        self,
        services: AgentServices,
        inputs: Inputs,
        screen: PlayerScreen,
        result: ScreenStep,
        now: datetime,
        refresh: bool,
    ) -> tuple[ScreenStep, datetime]:
        """Show what the planner chose: the override full screen, or each zone's tile
        where it changed. On a render error, ask the planner what that zone shows instead.
        Returns the step and when a widget on screen next needs redrawing."""
        never = result.wake_at
        slot = result.main.state.slot
        if result.override is not None or not screen.plans:
            assert slot is not None
            if result.main.changed or refresh or self._tiles_on_screen is not None:
                site = inputs.manifest.site.name if inputs.manifest else None
                frame = self.frames.full(
                    slot,
                    screen.canvas,
                    roadside=screen.look.roadside,
                    device_id=services.device_id,
                    site=site,
                )
                self._tiles_on_screen = None
                self._show(inputs.manifest, slot, frame, services, dirty=None, main=True)
            return result, never
        for _ in range(20):  # each failure removes an item, so this ends; bound it anyway
            wanted = {
                plan.name: tile_key(
                    result.steps[plan.name].state.slot,
                    plan.size,
                    screen.look,
                    now,
                    screen.tz,
                    feeds_at(services, now),
                )
                for plan in screen.plans
            }
            redraw_at = min(
                [key.view.changes_at for key in wanted.values() if key.view is not None] + [never]
            )
            on_screen = self._tiles_on_screen
            again = self._handover is not None and self._handover.again(
                result.main, stills=screen.stills_on_mpv
            )
            changed = [
                p
                for p in screen.plans
                if on_screen is None
                or on_screen.get(p.name) != wanted[p.name]
                or (again and p is screen.plans[0])
            ]
            if not changed:
                return result, redraw_at
            tiles = []
            try:
                for plan in changed:
                    failing = plan
                    tiles.append(
                        (plan.box, self.frames.tile(plan.name, wanted[plan.name], services.assets))
                    )
            except RenderError as error:
                log.warning(
                    "cannot show %s in zone %s: %s",
                    describe(result.steps[failing.name].state.slot),
                    failing.name,
                    error,
                )
                result = self._skip_failed(services, inputs, screen, result, failing, now)
                with self._lock:
                    inputs = replace(inputs, failed_items=self._inputs.failed_items)
                continue
            previous = self._composed if on_screen is not None else None
            frame, dirty = compose(screen.canvas, previous, tiles)
            main_changed = any(plan is screen.plans[0] for plan in changed)
            self._show(
                inputs.manifest,
                result.main.state.slot,
                frame,
                services,
                dirty=dirty,
                main=main_changed,
                tiles=wanted,
            )
            self._composed = frame
            return result, redraw_at
        self._show_black()
        return result, never

    def _skip_failed(
        self,
        services: AgentServices,
        inputs: Inputs,
        screen: PlayerScreen,
        result: ScreenStep,
        plan: ZonePlan,
        now: datetime,
    ) -> ScreenStep:
        """The zone's item could not be drawn: the planner's answer for the zone instead."""
        zone_in = zone_inputs(inputs, plan, zoned=screen.zoned)
        failed_in, zone_step = render_failed(zone_in, result.steps[plan.name].state, now)
        with self._lock:
            self._inputs = replace(
                self._inputs, failed_items=self._inputs.failed_items | failed_in.failed_items
            )
        result = with_zone(result, plan.name, zone_step, zoned=screen.zoned)
        for event in result.events:
            services.record(event)
        return result

    def _show(
        self,
        manifest: Manifest | None,
        slot: Slot | None,
        frame: Image.Image,
        services: AgentServices,
        *,
        dirty: tuple[int, int, int, int] | None,
        main: bool,
        tiles: dict[str, TileKey] | None = None,
    ) -> None:
        """Put `frame` on screen; `main`: the main zone (or the whole screen) changed;
        `tiles`: what each zone of it shows (None: it is not made of zones)."""
        roadside = manifest is not None and manifest.profile.kind is ProfileKind.ROADSIDE
        item = slot.item if slot is not None and slot.screen is Screen.ITEM else None
        alert = slot.alert if slot is not None else None
        showing = NowShowing(
            item_id=item.id if item else alert.id if alert else None,
            campaign_id=item.campaign_id if item else None,
            alert_id=alert.id if alert else None,
            since=slot.started_at if slot is not None else services.clock.now(),
            display=panel_power(slot),
        )
        rotation = manifest.rotation_deg if manifest is not None else 0
        with self._on_screen:
            panel = to_panel(frame, rotation)
            self.display.show(
                panel,
                pixel_exact=roadside,
                dirty=None if dirty is None else panel_box(dirty, frame.size, rotation),
            )
            if self._handover is not None and main:  # over the frame: stopping mpv shows it
                stills = self._screen is not None and self._screen.stills_on_mpv
                self._handover.show(item, video_file(services, item), frame, stills=stills)
            changed = showing != self._now_showing
            self._now_showing = showing
            self._tiles_on_screen = tiles
        self.frames_shown += 1
        if changed:  # a clock's minute turning is not news to the CMS
            log.debug("showing %s", describe(slot))
            services.status_changed()

    def _switch_panel(self, wanted: DisplayPower, *, force: bool = False) -> bool:
        """Put the panel in standby or wake it when `wanted` differs from what it was
        last asked (or always, `force`: a command). The display backend blanks (DPMS
        through the framebuffer) and the screen power (HDMI-CEC, or DPMS by `xset`) puts
        the panel itself in standby. Returns whether the screen power did it."""
        with self._power_lock:
            if wanted is self._panel and not force:
                return False
            self._panel = wanted
            on = wanted is DisplayPower.ON
            self.display.set_power(on)
            powered = self.screen_power.set_power(on)  # cli chose CEC, DPMS or nothing
        if not force:
            log.info("display %s (%s)", wanted.value, "panel too" if powered else "output only")
        return powered

    def _show_black(self) -> None:
        self._tiles_on_screen = None
        try:
            self.display.blank()
            if self._handover is not None:
                self._handover.stop()
        except Exception:
            log.exception("cannot even blank the display")

    def _prepare_next(
        self, services: AgentServices, inputs: Inputs, screen: PlayerScreen, result: ScreenStep
    ) -> None:
        """Render each zone's next tile now, so its change is instant."""
        try:
            for plan in screen.plans or ():
                current = result.steps.get(plan.name)
                if current is None:
                    continue
                at = current.wake_at
                ahead = step(zone_inputs(inputs, plan, zoned=screen.zoned), current.state, at)
                slot = ahead.state.slot
                if not ahead.changed or slot is None:
                    continue
                if is_override(slot):
                    if plan is screen.plans[0]:
                        site = inputs.manifest.site.name if inputs.manifest else None
                        self.frames.full(
                            slot,
                            screen.canvas,
                            roadside=screen.look.roadside,
                            device_id=services.device_id,
                            site=site,
                        )
                    continue
                feeds = feeds_at(services, at)
                key = tile_key(slot, plan.size, screen.look, at, screen.tz, feeds)
                if key.kind == "item":
                    tile = self.frames.tile(plan.name, key, services.assets)
                    if self._handover is not None and plan is screen.plans[0] and slot.item:
                        self._handover.prepare(
                            slot.item,
                            video_file(services, slot.item),
                            tile,
                            stills=screen.stills_on_mpv,
                        )
        except RenderError:
            pass  # it will fail again on its turn and be handled then
        except Exception:
            log.exception("preparing the next frame failed")

    # --- screenshots ---------------------------------------------------------------------

    def _screenshot(self) -> CommandOutcome:
        with self._on_screen:
            png = self.display.screenshot()
            showing = self._now_showing
        screen = self._screen
        rotation = screen.manifest.rotation_deg if screen and screen.manifest else 0
        return screenshot_outcome(
            png, showing, self.settings.screenshot_max_px, rotation_deg=rotation
        )
