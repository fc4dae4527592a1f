"""`digital-spaces player --config player.toml`: run a signage player on the device agent."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from devices.agent import DeviceAgent
from devices.config import ConfigError, DeviceConfig, config_path_argument, load_device_config
from devices.protocol import DeviceKind
from signage_player.display import (
    Display,
    DisplayError,
    FramebufferDisplay,
    HeadlessDisplay,
    WindowDisplay,
)
from signage_player.player import SignagePlayer
from signage_player.power import CecPower, DpmsPower, NoScreenPower, ScreenPower
from signage_player.settings import DisplayKind, PlayerSettings, player_settings
from signage_player.video import MpvVideo, VideoBackend

log = logging.getLogger(__name__)


def make_display(settings: PlayerSettings) -> Display:
    if settings.display is DisplayKind.FRAMEBUFFER:
        return FramebufferDisplay(settings.framebuffer, settings.framebuffer_sysfs)
    if settings.display is DisplayKind.WINDOW:
        return WindowDisplay(settings.output or (1280, 720))
    return HeadlessDisplay(settings.output)


def make_player(config: DeviceConfig) -> tuple[SignagePlayer, Display]:
    """The player and its display from the device configuration (read once)."""
    if config.kind is not DeviceKind.SIGNAGE:
        raise ConfigError(
            "device.kind",
            f"this device is a {config.kind.value} node",
            'run `digital-spaces portal`, or set kind = "signage"',
        )
    settings = player_settings(config.sections.get("player", {}))
    display = make_display(settings)
    power: ScreenPower = NoScreenPower()
    if settings.cec and CecPower.available():
        power = CecPower()
    elif settings.display is DisplayKind.WINDOW and DpmsPower.available():
        power = DpmsPower()
    video: VideoBackend | None = None
    if settings.video and MpvVideo.available():
        video = MpvVideo(hwdec=settings.video_hwdec)
    log.info(
        "player %s: %s display %sx%s, video %s, screen power %s",
        config.device_id,
        settings.display.value,
        *display.mode,
        "mpv" if video else "off",
        type(power).__name__,
    )
    return SignagePlayer(display, settings=settings, screen_power=power, video=video), display


def main(argv: Sequence[str] | None = None) -> int:
    path = config_path_argument(argv, prog="digital-spaces player", description=__doc__)
    try:
        config = load_device_config(path)
        player, display = make_player(config)
    except ConfigError as error:
        log.error("%s: %s", path, error)
        return 2
    except (OSError, DisplayError) as error:
        log.error("cannot start the player: %s", error)
        return 1
    try:
        return DeviceAgent(config, player).run_forever()
    finally:
        display.close()
