"""`digital-spaces portal --config portal.toml`: the device agent plus the portal web app
under its production server (Granian, see `portal.node.server_command`)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from devices.agent import DeviceAgent
from devices.config import ConfigError, load_device_config
from devices.protocol import DeviceKind
from portal.node import PortalApplication, portal_config_of

log = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="digital-spaces portal", description=__doc__)
    parser.add_argument("--config", type=Path, required=True, help="the device TOML file")
    options = parser.parse_args(argv)
    try:
        config = load_device_config(options.config)
        if config.kind is not DeviceKind.PORTAL:
            raise ConfigError(
                "device.kind",
                f"this device is a {config.kind.value} device",
                'run `digital-spaces player`, or set kind = "portal"',
            )
        portal = portal_config_of(config)
    except ConfigError as error:
        log.error("%s: %s", options.config, error)
        return 2
    app = PortalApplication(config, portal, config_path=options.config)
    return DeviceAgent(config, app).run_forever()
