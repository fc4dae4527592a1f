from __future__ import annotations

from pathlib import Path

import pytest

from devices.config import ConfigError
from signage_player.settings import DisplayKind, PlayerSettings, player_settings


def test_an_empty_player_table_gives_the_defaults() -> None:
    assert player_settings({}) == PlayerSettings()


def test_framebuffer_settings_are_read() -> None:
    settings = player_settings(
        {"display": "framebuffer", "framebuffer": "/dev/fb1", "output": [1920, 1080], "cec": False}
    )
    assert settings.display is DisplayKind.FRAMEBUFFER
    assert settings.framebuffer == Path("/dev/fb1")
    assert settings.output == (1920, 1080)
    assert settings.cec is False


def test_the_pi_can_name_mpvs_hardware_decoder() -> None:
    assert PlayerSettings().video_hwdec == "auto-safe"
    assert player_settings({"video_hwdec": "v4l2m2m-copy,drm"}).video_hwdec == "v4l2m2m-copy,drm"


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"display": "hdmi"}, "player.display"),
        ({"output": [1920]}, "player.output"),
        ({"identify_s": "ten"}, "player.identify_s"),
        ({"video": "yes"}, "player.video"),
        ({"video_hwdec": "auto --vo=x"}, "player.video_hwdec"),
        ({"brightnes": 50}, "player.brightnes"),
    ],
)
def test_a_bad_setting_names_its_key(table: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as error:
        player_settings(table)
    assert error.value.key == key
    assert error.value.fix
