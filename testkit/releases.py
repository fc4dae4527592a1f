"""Release wheels of this source tree for update tests (issue 18), built in the test.

A wheel is a zip with a ``.dist-info`` folder; pip installs one without asking how it
was built, so we write it directly from the working tree (seconds, no build backend,
no network), with the version the test names stamped into `devices.__version__`.
`broken=True` makes a release that installs fine and exits at once when started: what a
bad release looks like to the launcher.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("devices", "signage_player", "portal", "central_cms", "digital_spaces")
NAME = "digital_spaces"
BROKEN_MAIN = 'import sys\nsys.exit("this release is broken on purpose (a test)")\n'


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(version: str, out_dir: Path, *, broken: bool = False) -> Path:
    files: dict[str, bytes] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*")):
            if path.is_dir() or "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            files[path.relative_to(ROOT).as_posix()] = path.read_bytes()
    init = files["devices/__init__.py"].decode()
    files["devices/__init__.py"] = (
        "\n".join(
            f'__version__ = "{version}"' if line.startswith("__version__") else line
            for line in init.splitlines()
        ).encode()
        + b"\n"
    )
    if broken:
        files["digital_spaces/__main__.py"] = BROKEN_MAIN.encode()
    info = f"{NAME}-{version}.dist-info"
    files[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: digital-spaces\nVersion: {version}\n"
    ).encode()
    files[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: testkit\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    files[f"{info}/entry_points.txt"] = (
        b"[console_scripts]\ndigital-spaces = digital_spaces.cli:main\n"
    )
    record = [_record_line(name, data) for name, data in files.items()]
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    out_dir.mkdir(parents=True, exist_ok=True)
    wheel = out_dir / f"{NAME}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel
