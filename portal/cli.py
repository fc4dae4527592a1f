"""`digital-spaces portal --config portal.toml`: the device agent plus the portal web app
under its production server (Granian, see `portal.node.server_command`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from devices.agent import DeviceAgent
from devices.config import ConfigError, config_path_argument, load_device_config
from devices.protocol import DeviceKind
from portal.node import PortalApplication, portal_config_of

log = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    path = config_path_argument(argv, prog="digital-spaces portal", description=__doc__)
    try:
        config = load_device_config(path)
        if config.kind is not DeviceKind.PORTAL:
            raise ConfigError(
                "device.kind",
                f"this device is a {config.kind.value} device",
                'run `digital-spaces player`, or set kind = "portal"',
            )
        portal = portal_config_of(config)
    except ConfigError as error:
        log.error("%s: %s", path, error)
        return 2
    app = PortalApplication(config, portal, config_path=path)
    return DeviceAgent(config, app).run_forever()
