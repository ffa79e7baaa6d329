"""Provenance and safe writes: package versions, the source commit, atomic files.

Generic helpers every writer of results shares (run directories, stored landscape
results, reports); no JAX.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from return_landscapes.errors import LandscapeError

logger = logging.getLogger(__name__)


def matching_files(folder: Path, glob: str, pattern: str) -> list[re.Match]:
    """Files under ``folder`` found by ``glob`` whose path relative to ``folder``
    matches ``pattern`` in full, as matches (``match.string``: the relative path).

    Others (``step_000001000 (copy).npz``, a stray editor file) are not parsed as
    results: each is skipped with a note naming it.
    """
    found = []
    for path in sorted(Path(folder).glob(glob)):
        relative = path.relative_to(folder).as_posix()
        match = re.fullmatch(pattern, relative)
        if match:
            found.append(match)
        elif not path.name.startswith("."):  # temporary files of atomic writes
            logger.warning("ignored %s: not a name this tool writes", path)
    return found


def check_writable(folder: Path, fix: str) -> None:
    """Raise ``LandscapeError`` unless a file can be created in ``folder`` (or, if it
    does not exist yet, in its nearest existing parent), before any compute.

    It creates and removes one empty hidden file: what the file system says decides
    (read-only mounts, ACLs and quotas included), not the permission bits.
    """
    target = Path(folder).absolute()
    while not target.exists() and target != target.parent:
        target = target.parent
    if not target.is_dir():
        raise LandscapeError(f"{target} is a file, not a folder: {fix}")
    try:
        fd, probe = tempfile.mkstemp(dir=target, prefix=".write-check.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise LandscapeError(
            f"cannot write in {target} ({err.strerror}): {fix}"
        ) from None


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)`` then rename the temporary file onto ``path``.

    The temporary file is named after this host and process
    (``.<name>.<host>.<pid>.<random>.tmp``); those that killed processes of this
    host left for the same ``path`` are removed first.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_orphaned_temporaries(path)
    owner = f".{path.name}.{_host()}.{os.getpid()}."
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=owner, suffix=".tmp")
    os.close(fd)
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open()
        # would, so results are shared as the user's umask says.
        os.chmod(tmp, 0o666 & ~_umask())
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "host"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_orphaned_temporaries(path: Path) -> list[Path]:
    """Remove temporary files of ``path`` whose writer (a process of this host) is
    gone; those of live processes and of other hosts stay. Returns the removed."""
    pattern = re.compile(
        rf"\.{re.escape(path.name)}\.{re.escape(_host())}\.(\d+)\.[^.]+\.tmp"
    )
    removed = []
    for candidate in path.parent.glob(f".{path.name}.*.tmp"):
        match = pattern.fullmatch(candidate.name)
        if match and not _alive(int(match.group(1))):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    """Write a text file atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(text))


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages that determine the numbers."""
    from importlib import metadata

    versions = {"python": sys.version.split()[0]}
    for name in (
        "return-landscapes",
        "jax",
        "jaxlib",
        "flax",
        "optax",
        "brax",
        "numpy",
    ):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit() -> str | None:
    """The commit of the source tree this package runs from, if it is a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None
