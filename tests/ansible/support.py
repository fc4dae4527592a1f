"""What the Ansible tests drive: subprocesses with hard time limits, a cached Debian root made
with debootstrap, throwaway copies of it with /proc mounted, and a cache of the .deb files
those copies download."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPO / "ansible"
PLAYBOOKS = ("site.yml", "cms_server.yml", "signage_player.yml", "portal_node.yml")
EXAMPLE_INVENTORY = ANSIBLE_DIR / "inventories" / "example" / "hosts.yml"
EXAMPLE_VAULT_PASSWORD = ANSIBLE_DIR / "inventories" / "example" / "example-vault-password"

CACHE_DIR = Path(os.environ.get("DIGITAL_SPACES_TEST_CACHE", "/var/cache/digital-spaces-tests"))
DEBIAN_SUITE = os.environ.get("DIGITAL_SPACES_TEST_SUITE", "bookworm")
DEBIAN_MIRROR = os.environ.get("DIGITAL_SPACES_TEST_MIRROR", "http://deb.debian.org/debian")
# python3 and python3-apt for Ansible's modules, systemd so units can be enabled and verified.
BASE_PACKAGES = ("python3", "python3-apt", "systemd", "ca-certificates")
# A cached root older than this is rebuilt, so it stays close to the mirror.
BASE_MAX_AGE_S = 30 * 24 * 3600

# "host : ok=12 changed=0 unreachable=0 failed=0 ..." in ansible-playbook's recap.
_RECAP = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
    r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    output: str
    duration_s: float

    def explain(self) -> str:
        return (
            f"$ {' '.join(self.argv)}\n(exit {self.returncode} after {self.duration_s:.0f} s)\n"
            f"{self.output}"
        )

    def recap(self) -> dict[str, dict[str, int]]:
        return {
            m["host"]: {k: int(m[k]) for k in ("ok", "changed", "unreachable", "failed")}
            for m in _RECAP.finditer(self.output)
        }

    def changed_tasks(self) -> list[str]:
        """The tasks that reported a change, for a readable idempotency failure."""
        changed, task = [], ""
        for line in self.output.splitlines():
            if line.startswith(("TASK [", "RUNNING HANDLER [")):
                task = line.split("[", 1)[1].rsplit("]", 1)[0]
            elif line.startswith("changed:"):
                changed.append(f"{task}: {line}")
        return changed


class Job:
    """A subprocess in its own process group, so a timeout or a failing test kills all of it
    (ansible-playbook forks workers)."""

    def __init__(self, argv: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None):
        self.argv = tuple(str(a) for a in argv)
        self._started = time.monotonic()
        # Output goes to a file, not a pipe, so a chatty process never blocks on a full pipe;
        # wait() or kill() closes it.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115
        self._process = subprocess.Popen(
            self.argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait(self, timeout_s: float) -> Result:
        try:
            returncode = self._process.wait(timeout=timeout_s)
        except BaseException:
            self.kill()
            raise
        self._log.seek(0)
        output = self._log.read().decode(errors="replace")
        self._log.close()
        return Result(self.argv, returncode, output, time.monotonic() - self._started)

    def kill(self) -> None:
        if self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
        self._log.close()


def run(
    argv: Sequence[str], *, cwd: Path = REPO, timeout_s: float, env: dict[str, str] | None = None
) -> Result:
    return Job(argv, cwd=cwd, env=env).wait(timeout_s)


def run_all(
    commands: Sequence[Sequence[str]], *, cwd: Path, env: dict[str, str], timeout_s: float
) -> list[Result]:
    """Run commands side by side; results in the same order."""
    jobs = [Job(argv, cwd=cwd, env=env) for argv in commands]
    deadline = time.monotonic() + timeout_s
    try:
        return [job.wait(max(1.0, deadline - time.monotonic())) for job in jobs]
    finally:
        for job in jobs:
            job.kill()


def ansible_env(home: Path) -> dict[str, str]:
    """Ansible's environment, with its scratch files under `home` rather than ~root."""
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(ANSIBLE_DIR / "ansible.cfg"),
        ANSIBLE_LOCAL_TEMP=str(home / "tmp"),
        ANSIBLE_HOME=str(home),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_DEPRECATION_WARNINGS="0",
        XDG_CACHE_HOME=str(home / "cache"),
        NO_COLOR="1",
        PY_COLORS="0",
    )
    return env


# --- mounts ---------------------------------------------------------------------------------


def mounts_under(path: Path) -> list[Path]:
    """Mount points at or below `path`, deepest first (the order to unmount them in)."""
    root = os.path.realpath(path)
    found = []
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        for line in mounts:
            # Spaces and other odd characters in mount points are octal-escaped.
            point = line.split()[1].encode().decode("unicode_escape")
            if point == root or point.startswith(root + "/"):
                found.append(Path(point))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def unmount_all(path: Path) -> None:
    for point in mounts_under(path):
        subprocess.run(["umount", "--lazy", str(point)], check=False)
    left = mounts_under(path)
    if left:
        raise RuntimeError(f"still mounted under {path}: {left}")


def remove_tree(path: Path) -> None:
    """Delete a root tree, but never through a mount (that would delete the host's files)."""
    if not path.exists():
        return
    unmount_all(path)
    shutil.rmtree(path)


@contextlib.contextmanager
def proc_mounted(root: Path) -> Iterator[None]:
    (root / "proc").mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)
    try:
        yield
    finally:
        unmount_all(root / "proc")


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# --- the cached Debian root -----------------------------------------------------------------


def _architecture() -> str:
    return subprocess.run(
        ["dpkg", "--print-architecture"], check=True, capture_output=True, text=True
    ).stdout.strip()


def deb_cache_dir() -> Path:
    return CACHE_DIR / f"debs-{DEBIAN_SUITE}-{_architecture()}"


def base_root_path() -> Path:
    recipe = f"minbase {DEBIAN_SUITE} {' '.join(BASE_PACKAGES)} policy-rc.d unsafe-io v2"
    key = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    return CACHE_DIR / f"root-{DEBIAN_SUITE}-{_architecture()}-{key}"


def base_root(timeout_s: float = 900) -> Path:
    """A minimal Debian root (debootstrap --variant=minbase), built once and cached.

    Built into a temporary directory next to the cache and renamed into place, under a lock,
    so a run killed half-way or two runs at once never leave a half-built root behind."""
    final = base_root_path()
    with _locked(CACHE_DIR / f"{final.name}.lock"):
        if final.is_dir() and time.time() - final.stat().st_mtime < BASE_MAX_AGE_S:
            return final
        build = Path(tempfile.mkdtemp(prefix=".build-", dir=CACHE_DIR))
        try:
            root = build / "root"
            result = run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(BASE_PACKAGES)}",
                    DEBIAN_SUITE,
                    str(root),
                    DEBIAN_MIRROR,
                ],
                timeout_s=timeout_s,
            )
            if result.returncode != 0:
                raise RuntimeError(f"debootstrap failed:\n{result.explain()[-4000:]}")
            # Maintainer scripts must never start services in a chroot.
            policy = root / "usr/sbin/policy-rc.d"
            policy.write_text("#!/bin/sh\n# Services are not started in this chroot.\nexit 101\n")
            policy.chmod(0o755)
            # A throwaway root need not survive a power cut: skip dpkg's fsyncs (as Debian's
            # container images do), which dominate package installation on a busy disk.
            (root / "etc/dpkg/dpkg.cfg.d/digital-spaces-tests").write_text("force-unsafe-io\n")
            for deb in (root / "var/cache/apt/archives").glob("*.deb"):
                deb.unlink()  # installed already; the cache is for what the roles install
            unmount_all(build)
            if final.exists():
                old = Path(tempfile.mkdtemp(prefix=".old-", dir=CACHE_DIR))
                final.rename(old / "root")
                remove_tree(old)
            root.rename(final)
        finally:
            remove_tree(build)
    return final


@contextlib.contextmanager
def throwaway_root(parent: Path, name: str) -> Iterator[Path]:
    """A copy of the cached root with /proc mounted, deleted afterwards. Its apt archive is
    seeded from the .deb cache (hard links) so packages are not downloaded again."""
    base = base_root()
    root = parent / name
    try:
        subprocess.run(["cp", "-a", "--reflink=auto", str(base), str(root)], check=True)
        shutil.copy2("/etc/resolv.conf", root / "etc/resolv.conf")
        archives = root / "var/cache/apt/archives"
        cache = deb_cache_dir()
        if cache.is_dir():
            for deb in cache.glob("*.deb"):
                _link_or_copy(deb, archives / deb.name)
        with proc_mounted(root):
            yield root
    finally:
        remove_tree(root)


def keep_debs(roots: Sequence[Path]) -> None:
    """Refresh the .deb cache from the packages these roots hold: one file per package, this
    run's downloads first, so the cache does not grow with every point release."""
    cache = deb_cache_dir()
    with _locked(CACHE_DIR / f"{cache.name}.lock"):
        fresh = Path(tempfile.mkdtemp(prefix=".debs-", dir=CACHE_DIR))
        archives = [root / "var/cache/apt/archives" for root in roots]
        # A file with one link was downloaded by this run; the others are the seeded cache.
        candidates = [d for a in archives for d in a.glob("*.deb") if d.stat().st_nlink == 1]
        candidates += [d for a in [*archives, cache] if a.is_dir() for d in a.glob("*.deb")]
        packages: set[str] = set()
        for deb in candidates:
            package = deb.name.split("_", 1)[0]
            if package not in packages:
                packages.add(package)
                _link_or_copy(deb, fresh / deb.name)
        fresh.chmod(0o755)
        if cache.exists():
            old = Path(tempfile.mkdtemp(prefix=".old-", dir=CACHE_DIR))
            cache.rename(old / "debs")
            shutil.rmtree(old)
        fresh.rename(cache)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except FileExistsError:
        pass
    except OSError:  # another file system
        shutil.copy2(source, target)


def sweep_leftovers(keep: Sequence[Path] = (), max_age_s: float = 6 * 3600) -> None:
    """Remove what a killed run left in the cache directory, and roots and wheelhouses of
    earlier recipes (never a live run's: only what is older than max_age_s)."""
    if not CACHE_DIR.is_dir():
        return
    prefixes = (".build-", ".old-", ".debs-", "work-", "root-", "wheels-")
    for path in CACHE_DIR.iterdir():
        stale = time.time() - path.stat().st_mtime > max_age_s
        if path.name.startswith(prefixes) and path.is_dir() and stale and path not in keep:
            remove_tree(path)
