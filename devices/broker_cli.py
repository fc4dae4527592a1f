"""`digital-spaces broker`: write a Mosquitto configuration sized for the fleet.

    digital-spaces broker config --port 1883 --fleet-size 1000 \\
        --password-file /etc/mosquitto/ds.passwd --acl-file /etc/mosquitto/ds.acl \\
        --persistence-dir /var/lib/mosquitto > /etc/mosquitto/conf.d/digital-spaces.conf
    digital-spaces broker hash-password        # reads a password on stdin

The password file and ACL themselves come from the CMS, which knows the fleet:
`digital-spaces cms export-broker`. Without a password file the command refuses
(anyone could connect under any device's client id) unless given --allow-anonymous.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from devices.broker import BrokerConfigError, TlsFiles, hash_password, mosquitto_conf


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="digital-spaces broker", description=__doc__)
    sub = parser.add_subparsers(dest="action", required=True)
    config = sub.add_parser("config", help="print mosquitto.conf for the fleet")
    config.add_argument("--port", type=int, default=1883)
    config.add_argument("--bind", default="127.0.0.1")
    config.add_argument("--fleet-size", type=int, default=1000)
    config.add_argument("--password-file", type=Path)
    config.add_argument("--acl-file", type=Path)
    config.add_argument("--persistence-dir", type=Path)
    config.add_argument("--tls-cert", type=Path)
    config.add_argument("--tls-key", type=Path)
    config.add_argument("--tls-port", type=int, default=8883)
    config.add_argument(
        "--allow-anonymous",
        action="store_true",
        help="without --password-file: let anyone connect (a throwaway test broker only)",
    )
    sub.add_parser("hash-password", help="print the Mosquitto hash of a password read on stdin")
    options = parser.parse_args(argv)

    if options.action == "hash-password":
        password = sys.stdin.readline().rstrip("\n")
        if not password:
            parser.error("give the password on standard input")
        print(hash_password(password))
        return 0

    if bool(options.tls_cert) != bool(options.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    tls = (
        TlsFiles(certfile=options.tls_cert, keyfile=options.tls_key, port=options.tls_port)
        if options.tls_cert
        else None
    )
    if options.fleet_size < 1:
        parser.error("--fleet-size must be at least 1")
    try:
        text = mosquitto_conf(
            port=options.port,
            bind=options.bind,
            password_file=options.password_file,
            acl_file=options.acl_file,
            persistence_dir=options.persistence_dir,
            fleet_size=options.fleet_size,
            tls=tls,
            allow_anonymous=options.allow_anonymous,
        )
    except BrokerConfigError as error:
        print(f"digital-spaces broker config: refused: {error}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0
