"""Provenance and safe writes: package versions, the source commit, the devices, the
command line; atomic files.

Generic helpers every writer of results shares (run directories, stored landscape
results, reports). No JAX import of its own: the devices are read only where the
process has already imported JAX.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from return_landscapes.errors import LandscapeError

logger = logging.getLogger(__name__)


def matching_files(folder: Path, glob: str, pattern: str) -> list[re.Match]:
    """Files under ``folder`` found by ``glob`` whose path relative to ``folder``
    matches ``pattern`` in full, as matches (``match.string``: the relative path).

    Others (``step_000001000 (copy).npz``, a stray editor file) are not parsed as
    results: each is skipped with a note naming it, once per process (a command
    lists a folder several times).
    """
    found = []
    for path in sorted(Path(folder).glob(glob)):
        relative = path.relative_to(folder).as_posix()
        match = re.fullmatch(pattern, relative)
        if match:
            found.append(match)
        elif not path.name.startswith("."):  # temporary files of atomic writes
            note_ignored(path)
    return found


_NOTED: set[Path] = set()  # the ignored files already named in this process


def note_ignored(path: Path) -> None:
    """Note on stderr that ``path`` is ignored (not a name this tool writes), the
    first time this process meets it."""
    key = Path(path).absolute()
    if key not in _NOTED:
        _NOTED.add(key)
        logger.warning("ignored %s: not a name this tool writes", path)


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


def hdf5_attribute(value):
    """A value as an HDF5 attribute: ``None`` as ``""``, lists and mappings as JSON."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return value


def plain_attribute(value):
    """An HDF5 attribute read back as a plain Python value (text, int, float)."""
    if isinstance(value, bytes):
        return value.decode()
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        return value.item()
    return value


def atomic_write_text(path: Path, text: str) -> None:
    """Write a text file atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(text))


PACKAGE = "return-landscapes"

VERSIONED_PACKAGES = (
    PACKAGE,
    "jax",
    "jaxlib",
    "flax",
    "optax",
    "brax",
    "numpy",
    "envpool",
    "mujoco",
)
"""The packages whose versions a run or result records (with Python's)."""


def package_versions() -> dict[str, str | None]:
    """Versions of Python and the packages that determine the numbers (``None``:
    not installed, e.g. envpool or mujoco where Atari or MJX is not used)."""
    from importlib import metadata

    versions: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


class SourceCommit(NamedTuple):
    """The commit of this package's source, and where that answer came from."""

    commit: str | None
    """The git commit, or ``None`` where the install does not say."""
    dirty: bool | None
    """Whether tracked files differ from ``commit`` (``None``: unknown)."""
    source: str | None
    """How ``commit`` was found: ``direct_url.json vcs_info`` (pip installed a git
    URL), ``git in <path> (editable install)``, or ``None``."""


def _direct_url(package: str) -> dict | None:
    """The package's PEP 610 ``direct_url.json``, or ``None`` (not installed, or
    installed from an index)."""
    from importlib import metadata

    try:
        text = metadata.distribution(package).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    if not text:
        return None
    try:
        info = json.loads(text)
    except json.JSONDecodeError:
        return None
    return info if isinstance(info, dict) else None


def source_commit(package_dir: Path | None = None) -> SourceCommit:
    """The git commit of the installed package, from its install metadata.

    A ``pip install git+URL`` records the commit in ``direct_url.json``
    (``vcs_info.commit_id``). An editable install records its source tree; git is
    asked there, and only if ``package_dir`` (this package's folder) lies inside that
    tree, so a copy imported from elsewhere (``PYTHONPATH``) is never credited with
    another tree's commit. Anything else gives ``None``: the repository a process
    happens to run in says nothing about the package.
    """
    package_dir = Path(package_dir or Path(__file__).parent).resolve()
    info = _direct_url(PACKAGE) or {}
    vcs = info.get("vcs_info") or {}
    if vcs.get("vcs") == "git" and vcs.get("commit_id"):
        return SourceCommit(vcs["commit_id"], False, "direct_url.json vcs_info")
    tree = _file_url_path(info.get("url", ""))
    editable = (info.get("dir_info") or {}).get("editable", False)
    if not editable or tree is None or not package_dir.is_relative_to(tree):
        return SourceCommit(None, None, None)
    commit = _git(tree, "rev-parse", "HEAD")
    if commit is None:
        return SourceCommit(None, None, None)
    changes = _git(tree, "status", "--porcelain", "--untracked-files=no")
    dirty = None if changes is None else bool(changes)
    return SourceCommit(commit, dirty, f"git in {tree} (editable install)")


def _file_url_path(url: str) -> Path | None:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "file":
        return None
    return Path(urllib.request.url2pathname(parsed.path)).resolve()


def _git(folder: Path, *args: str) -> str | None:
    """``git <args>`` in ``folder``: its output, stripped, or ``None`` on failure."""
    try:
        out = subprocess.run(
            ["git", *args],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def device_info() -> dict | None:
    """The devices JAX computes on (``platform``, ``kind``, ``count``), or ``None``
    where this process has not imported JAX (nothing was computed with it)."""
    if "jax" not in sys.modules:
        return None
    import jax

    devices = jax.devices()
    return {
        "platform": devices[0].platform,
        "kind": devices[0].device_kind,
        "count": len(devices),
    }


def run_provenance() -> dict:
    """What every run manifest and stored result records about how it was made:
    package versions, the source commit (``git_commit``, ``git_dirty``,
    ``git_commit_source``), the devices and the command line (``sys.argv``)."""
    source = source_commit()
    return {
        "versions": package_versions(),
        "git_commit": source.commit,
        "git_dirty": source.dirty,
        "git_commit_source": source.source,
        "devices": device_info(),
        "command": command_line(),
    }


def command_line() -> list[str]:
    """The command as typed: ``["landscape", "train", "env=hopper", ...]`` (the CLI
    names Hydra's program ``landscape-<command>``), else ``sys.argv`` as it is."""
    program, *rest = sys.argv or [""]
    if program.startswith("landscape-"):
        return ["landscape", program.removeprefix("landscape-"), *rest]
    return list(sys.argv)
