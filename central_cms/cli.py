"""`digital-spaces cms ...`: run the CMS, or one admin command.

run [--host H] [--port P]   serve the staff UI and API (Flask's server; use gunicorn in production);
                            like every CMS process it renews manifests every few minutes
migrate                     upgrade the database to the newest schema
public-key                  print the manifest signing key devices must trust
export-broker --passwords F --acl F   write Mosquitto's password and ACL files for the fleet
create-user NAME --role R   add a staff user (password from DS_CMS_NEW_PASSWORD or asked)
create-token NAME LABEL     print a new API token for a user
sync                        recompile every device and publish what changed now (the running
                            CMS does this by itself; no cron job needed)
seed-demo                   load the demo city's sites, screens, media and campaigns
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select

from central_cms import db, fleet
from central_cms import models as m
from central_cms.config import CmsConfigError, load_config
from central_cms.keys import load_or_create_signing_key
from devices.files import write_secret

log = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="digital-spaces cms",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", type=Path, help="TOML file (else DS_CMS_* variables)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=5000)
    sub.add_parser("migrate")
    sub.add_parser("public-key")
    export = sub.add_parser("export-broker")
    export.add_argument("--passwords", type=Path, required=True)
    export.add_argument("--acl", type=Path, required=True)
    user = sub.add_parser("create-user")
    user.add_argument("username")
    user.add_argument("--role", choices=[r.value for r in m.Role], required=True)
    user.add_argument("--sites", default="", help="comma-separated site ids (editors)")
    token = sub.add_parser("create-token")
    token.add_argument("username")
    token.add_argument("label")
    sub.add_parser("sync")
    sub.add_parser("seed-demo")
    options = parser.parse_args(argv)
    try:
        config = load_config(options.config)
    except CmsConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2

    if options.command == "public-key":
        print(load_or_create_signing_key(config.signing_key_path).public_key.to_text())
        return 0
    if options.command == "migrate":
        db.migrate(db.make_engine(config.database_url))
        return 0

    from central_cms.app import create_app
    from central_cms.runtime import runtime

    # Only a serving CMS renews manifests; a one-off admin command must not start to.
    app = create_app(config, renewal=options.command == "run")
    rt = runtime(app)
    with app.app_context():
        session = db.database(app).sessions()
        try:
            if options.command == "run":
                start = getattr(rt.publisher, "start", None)
                if start is not None:
                    start()
                app.run(host=options.host, port=options.port, threaded=True)
            elif options.command == "export-broker":
                passwords, acl = fleet.broker_files(session, rt)
                _write_private(options.passwords, passwords)
                _write_private(options.acl, acl)
                print(f"wrote {options.passwords} and {options.acl}")
            elif options.command == "create-user":
                password = os.environ.get("DS_CMS_NEW_PASSWORD") or getpass.getpass("Password: ")
                fleet.create_user(
                    session,
                    rt,
                    None,
                    username=options.username,
                    password=password,
                    role=m.Role(options.role),
                    sites=[s for s in options.sites.split(",") if s],
                )
            elif options.command == "create-token":
                found = session.scalars(
                    select(m.User).where(m.User.username == options.username)
                ).first()
                if found is None:
                    print(f"no user {options.username}", file=sys.stderr)
                    return 1
                print(fleet.create_api_token(session, rt, found, options.label))
            elif options.command == "sync":
                from central_cms.manifests import sync_manifests

                report = sync_manifests(session, rt)
                print(f"published={len(report.published)} unchanged={len(report.unchanged)}")
            elif options.command == "seed-demo":
                from central_cms.seed import seed_demo

                seed_demo(session, rt)
                print("seeded the demo city")
        except Exception as error:  # an admin command: say what failed, not a traceback
            from central_cms.errors import Invalid

            if isinstance(error, Invalid):
                print(f"{error.field}: {error.message}", file=sys.stderr)
                return 1
            raise
        finally:
            session.close()
            stop = getattr(rt.publisher, "stop", None)
            if stop is not None:
                stop()
    return 0


def _write_private(path: Path, text: str) -> None:
    write_secret(path, text.encode("utf-8"))
