"""The `digital-spaces` console script: one subcommand per part, each imported only when used."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence

# subcommand -> ("module:function", one-line help). The function takes the remaining argv.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("digital_spaces.demo:main", "run the whole system on one machine, embedded defaults"),
    "cms": ("central_cms.cli:main", "run the CMS web app, or a CMS admin command"),
    "ingest": ("central_cms.ingest_cli:main", "store device events, health and status"),
    "player": ("signage_player.cli:main", "run a signage player"),
    "portal": ("portal.cli:main", "run a captive-portal node"),
    "launch": ("devices.launcher:main", "run a device part, rolling back a bad release"),
    "broker": ("devices.broker_cli:main", "write Mosquitto configuration, passwords and ACLs"),
    "protocol": ("devices.protocol.cli:main", "export the wire contract's JSON Schemas"),
}


def _load(target: str) -> Callable[[Sequence[str]], int]:
    module_name, _, function_name = target.partition(":")
    module = importlib.import_module(module_name)
    function: Callable[[Sequence[str]], int] = getattr(module, function_name)
    return function


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="digital-spaces", description=__doc__)
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    parser.add_argument("command", choices=sorted(SUBCOMMANDS), help="the part to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for that part")
    parser.epilog = "\n".join(f"  {name:10} {help_}" for name, (_, help_) in SUBCOMMANDS.items())
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    options = parser.parse_args(argv)
    logging.basicConfig(
        level=options.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic announces each of its plugins at INFO on import: noise on every command.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    return _load(SUBCOMMANDS[options.command][0])(options.args)


if __name__ == "__main__":
    sys.exit(main())
