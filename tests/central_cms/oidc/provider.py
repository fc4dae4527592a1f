"""Runs the real OpenID provider (provider.mjs, npm's oidc-provider under Node) for tests.

`npm ci` installs the pinned package once into a cache folder named by the lock file's
hash ($DS_NPM_CACHE, else ~/.cache/digital-spaces/oidc-provider). Without Node or the npm
registry the tests are skipped with the reason; any other install failure fails them.
"""

from __future__ import annotations

import hashlib
import json
import os
import selectors
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from devices.files import write_atomic

HERE = Path(__file__).parent
PASSPHRASE = "city passphrase 2026"
CLIENT_ID = "digital-spaces-cms"
CLIENT_SECRET = "test-client-secret-" + "x" * 24
# npm's words for "the registry cannot be reached".
_OFFLINE = ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ETIMEDOUT", "ENETUNREACH", "network")


def _cache_root() -> Path:
    configured = os.environ.get("DS_NPM_CACHE")
    return Path(configured) if configured else Path.home() / ".cache/digital-spaces/oidc-provider"


def install() -> Path:
    """The folder holding node_modules/oidc-provider and provider.mjs."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not installed (scripts/install-system-packages)")
    lock = (HERE / "package-lock.json").read_bytes()
    folder = _cache_root() / hashlib.sha256(lock).hexdigest()[:16]
    if not (folder / "node_modules" / "oidc-provider" / "package.json").exists():
        staging = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(HERE / name, staging / name)
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--prefer-offline"],
            cwd=staging,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            if any(word in done.stderr for word in _OFFLINE):
                pytest.skip(f"npm cannot reach the registry for oidc-provider: {done.stderr}")
            raise RuntimeError(f"npm ci failed:\n{done.stderr}")
        if folder.exists():  # another run finished first
            shutil.rmtree(staging, ignore_errors=True)
        else:
            staging.rename(folder)
    shutil.copy(HERE / "provider.mjs", folder / "provider.mjs")
    return folder


@dataclass
class Account:
    groups: list[str]
    name: str = ""


@dataclass
class RunningProvider:
    """One provider process; `set_groups` changes an account's groups at the provider
    (the provider reads its accounts file at each sign-in), as IT would in Entra ID."""

    issuer: str
    process: subprocess.Popen[str]
    accounts_file: Path
    accounts: dict[str, Account] = field(default_factory=dict)

    def set_groups(self, login: str, groups: list[str]) -> None:
        self.accounts[login].groups = groups
        write_accounts(self.accounts_file, self.accounts)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def write_accounts(path: Path, accounts: dict[str, Account]) -> None:
    table = {
        login: {"password": PASSPHRASE, "name": a.name or login.title(), "groups": a.groups}
        for login, a in accounts.items()
    }
    write_atomic(path, json.dumps(table).encode())


def start(folder: Path, work: Path, cms_url: str, accounts: dict[str, Account]) -> RunningProvider:
    """Start a provider on a free port that knows the CMS at `cms_url` as its client."""
    accounts_file = work / "accounts.json"
    write_accounts(accounts_file, accounts)
    settings: dict[str, Any] = {
        "port": 0,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uri": f"{cms_url}/sso/callback",
        "post_logout_redirect_uri": f"{cms_url}/login",
        "accounts_file": str(accounts_file),
    }
    settings_file = work / "provider.json"
    write_atomic(settings_file, json.dumps(settings).encode())
    with (work / "provider.log").open("w") as log:  # its warnings; the child keeps the fd
        process = subprocess.Popen(
            ["node", str(folder / "provider.mjs"), str(settings_file)],
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    line = _first_line(process, timeout_s=30)
    if not line.startswith("listening "):
        process.kill()
        process.wait(10)
        log_text = (work / "provider.log").read_text()
        raise RuntimeError(f"the OpenID provider did not start: {line!r}\n{log_text}")
    return RunningProvider(line.split()[1], process, accounts_file, dict(accounts))


def _first_line(process: subprocess.Popen[str], timeout_s: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(timeout=deadline - time.monotonic()):
                return process.stdout.readline().strip()
    return ""
