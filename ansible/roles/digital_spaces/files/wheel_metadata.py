"""Print a wheel's version and third-party requirements as JSON (Ansible's install_release).

Run by the system Python on the device, before any environment exists: standard library only.
"""

import json
import sys
import zipfile
from email.parser import Parser


def main(wheel: str) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [
            n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
        ]
        metadata = Parser().parsestr(archive.read(name).decode("utf-8"))
    requires = metadata.get_all("Requires-Dist") or []
    print(json.dumps({"version": metadata["Version"], "requires": requires}))


if __name__ == "__main__":
    main(sys.argv[1])
