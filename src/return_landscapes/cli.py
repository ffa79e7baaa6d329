"""The ``landscape`` command: ``landscape <command> key=value ...`` (Hydra overrides).

Every command is declared once in ``conf/commands.py``: its typed config (registered
with Hydra as ``<command>_schema`` under a primary config of the same shape for every
command) and the Python function it runs; the usage text and the command table are
derived from those declarations. Bad input ends in one ``error:`` line and exit
status 2.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import math
import os
import re
import sys
import typing
from pathlib import Path

from return_landscapes._xla import configure_xla
from return_landscapes.conf import (
    describe_options,
    option_names,
    renamed_options,
    renames,
)
from return_landscapes.conf.commands import COMMANDS, Command, attribute
from return_landscapes.errors import LandscapeError
from return_landscapes.logs import show_logs

if typing.TYPE_CHECKING:
    from omegaconf import DictConfig

LAUNCHERS = ("basic", "local", "slurm")
MULTIRUN_FLAGS = ("--multirun", "-m")

USAGE_FOOTER = """\
Options are Hydra overrides: `landscape <command> --help` lists every option with its
default and meaning, `landscape <command> --cfg job` prints the composed config.
Sweeps: `landscape <command> --multirun key=a,b ...`, members run by `launcher=basic`
(default, in this process), `launcher=local` (submitit, a process each) or
`launcher=slurm` (submitit, one SLURM array job; hydra.launcher.* sets its options);
Hydra's own groups pass through (`hydra/sweeper=...`, `hydra/launcher=...`)."""


def usage() -> str:
    """``landscape --help``: every registered command with its summary and an
    example, then how options and sweeps work."""
    lines = ["usage: landscape <command> [key=value ...] [--multirun]", "", "commands:"]
    for command in COMMANDS.values():
        summary = command.summary.splitlines()
        if len(command.name) < 8:
            lines.append(f"  {command.name:<8}{summary[0]}")
        else:
            lines += [f"  {command.name}", f"{'':10}{summary[0]}"]
        lines += [f"{'':10}{line}" for line in summary[1:]]
        lines.append(f"{'':10}e.g. {command.example}")
    return "\n".join([*lines, "", USAGE_FOOTER])


OS_ERROR_FIXES = {
    errno.ENOSPC: "free space, then run the same command again (finished results "
    "are kept; train continues with resume=true)",
    errno.EDQUOT: "free space under your quota, then run the same command again",
    errno.EACCES: "choose an out= you may write to, or change the folder's permissions",
    errno.EPERM: "choose an out= you may write to, or change the folder's permissions",
    errno.EROFS: "the file system is read-only: choose another out=",
    errno.ENOTDIR: "a file stands where a folder is needed: choose another path",
    errno.EISDIR: "a folder stands where a file is needed: choose another path",
}


@contextlib.contextmanager
def user_errors():
    """Turn a ``LandscapeError``, or an ``OSError`` the user can fix (disk full, no
    permission), into one ``error:`` line on stderr and exit 2."""
    try:
        yield
    except LandscapeError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except OSError as err:
        fix = OS_ERROR_FIXES.get(err.errno)
        if fix is None:
            raise
        filename = err.filename or _hdf5_filename(str(err.strerror))
        where = f" ({filename})" if filename else ""
        # os.strerror, not err.strerror: HDF5's report of a failed write spans lines
        print(f"error: {os.strerror(err.errno)}{where}: {fix}", file=sys.stderr)
        sys.exit(2)


def _hdf5_filename(report: str) -> str | None:
    """The file an HDF5 error report names (``filename = '...'``), if any."""
    found = re.search(r"filename = '([^']*)'", report)
    return found.group(1) if found else None


class _Tee:
    """A text stream that writes to a stream and a log file."""

    def __init__(self, stream, log):
        self.stream, self.log = stream, log

    def write(self, text: str) -> int:
        self.log.write(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.log.flush()
        self.stream.flush()

    def __getattr__(self, name):
        return getattr(self.stream, name)


@contextlib.contextmanager
def member_log(command: str):
    """In a ``--multirun`` member, copy stdout and stderr into its sweep folder."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    config = HydraConfig.get()
    if config.mode != RunMode.MULTIRUN:
        yield
        return
    folder = Path(config.runtime.output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{command}.log", "a") as log:
        log.write(f"# overrides: {' '.join(config.overrides.task)}\n")
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Tee(sys.stdout, log), _Tee(sys.stderr, log)
        try:
            yield
        finally:
            sys.stdout, sys.stderr = saved


HELP_FLAGS = ("-h", "--help")


def command_help(command: str) -> str:
    """``landscape <command> --help``: the command's summary, then one line per
    option (``key: type = default  meaning``), read from the schema's field
    docstrings; config groups (``td3.*``) are followed by their options."""
    schema = COMMANDS[command].config
    summary = (schema.__doc__ or "").strip().splitlines()[0].replace("``", "")
    rows = describe_options(schema)
    heads = [
        row.key if row.default is None else f"{row.key}: {row.kind} = {row.default}"
        for row in rows
    ]
    width = min(max(map(len, heads)), 40)
    lines = [
        summary,
        "",
        f"usage: landscape {command} [key=value ...] [--multirun]",
        "",
        "options:",
    ]
    for head, row in zip(heads, rows, strict=True):
        doc = row.doc.replace("``", "`")
        lines.append(f"  {head:<{width}}  {doc}".rstrip())
    old = renamed_options(schema)
    if old:
        names = ", ".join(f"{key}= (now {new}=)" for key, new in old.items())
        lines += ["", f"old names, still accepted: {names}"]
    lines += [
        "",
        f"`landscape {command} --cfg job` prints the composed config;",
        "`landscape --help` lists the commands and how to sweep options.",
    ]
    return "\n".join(lines)


def rename_overrides(schema: type, overrides: list[str]) -> list[str]:
    """``overrides`` with old option names replaced by the new ones (``seed=3`` ->
    ``sample_seed=3`` for ``landscape purd``): one note each on stderr, and a
    ``LandscapeError`` if an old name and its new one are both given."""
    where: dict[str, list[int]] = {}
    for i, override in enumerate(overrides):
        if not override.startswith("-") and "=" in override:
            where.setdefault(override.split("=", 1)[0].lstrip("+~"), []).append(i)
    renamed = list(overrides)
    for old, new in renames(schema, where).items():
        for i in where[old]:
            key, value = renamed[i].split("=", 1)
            renamed[i] = f"{key[: len(key) - len(old)]}{new}={value}"
    return renamed


def check_override_keys(schema: type, overrides: list[str]) -> None:
    """Fail on an unknown ``key=value`` key, listing the valid keys at that level."""
    for override in overrides:
        if override.startswith("-") or "=" not in override:
            continue
        key, value = override.split("=", 1)
        key = key.lstrip("+~")
        if key.startswith("hydra.") or key == "hydra":
            continue
        if key.startswith("hydra/"):
            check_hydra_group(key, value)
            continue
        if key == "launcher":
            check_launcher(value)
            continue
        node = schema
        for depth, part in enumerate(key.split(".")):
            if not dataclasses.is_dataclass(node):
                break
            hints = typing.get_type_hints(node)
            if part not in hints:
                prefix = ".".join(key.split(".")[:depth])
                where = f" under '{prefix}'" if prefix else ""
                raise LandscapeError(
                    f"unknown option '{key}'{where}: valid options are "
                    f"{', '.join(option_names(node))}"
                )
            node = hints[part]


HYDRA_GROUP = re.compile(r"hydra(/[A-Za-z_][\w-]*)+")
PLAIN_CHOICES = re.compile(r"[\w-]+(,[\w-]+)*")


def check_hydra_group(key: str, value: str) -> None:
    """Fail unless ``key=value`` chooses an existing option of an existing Hydra
    group (``hydra/launcher=submitit_slurm``, ``hydra/sweeper=basic``), listing the
    valid groups or options."""
    if not HYDRA_GROUP.fullmatch(key) or not value:
        raise LandscapeError(
            f"'{key}={value}' is not a Hydra group override: write "
            "hydra/<group>=<option>, e.g. hydra/sweeper=basic"
        )
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    with initialize_config_module("return_landscapes.conf", version_base=None):
        loader = GlobalHydra.instance().config_loader()
        parent = key.rsplit("/", 1)[0]
        groups = sorted(loader.list_groups(parent))
        if key.rsplit("/", 1)[1] not in groups:
            names = ", ".join(f"{parent}/{group}" for group in groups)
            valid = f"choose one of {names}" if groups else f"{parent} has none"
            raise LandscapeError(f"unknown Hydra group '{key}': {valid}")
        options = sorted(loader.get_group_options(key))
    unknown = [
        choice
        for choice in value.split(",")
        if PLAIN_CHOICES.fullmatch(value) and choice not in options
    ]
    if unknown:
        raise LandscapeError(
            f"unknown option '{unknown[0]}' of {key}: choose one of "
            f"{', '.join(options)}"
        )


def check_member_values(command: Command, configs: list, sweep: bool) -> None:
    """Check every composed member before any runs: its ranges (``RANGES``) and,
    in a sweep, everything the command itself checks before computing
    (``Command.checks``: ``train``'s sizes and schedule, a landscape command's
    run, checkpoints, settings and stored state); a single run makes those checks
    itself, first thing."""
    from omegaconf import OmegaConf

    from return_landscapes.conf import resolve

    checks = attribute(command.checks) if command.checks and sweep else None
    for config in configs:
        own = OmegaConf.masked_copy(config, [key for key in config if key != "hydra"])
        resolved = resolve(command.config, own)  # out of range: one error line
        if checks is not None:
            checks(resolved)


def check_launcher(value: str) -> None:
    """Fail on a launcher that is not shipped (a comma list sweeps several)."""
    for name in value.split(","):
        if name not in LAUNCHERS:
            raise LandscapeError(
                f"unknown launcher '{name}': choose one of {', '.join(LAUNCHERS)}"
            )


def sweep_members(overrides: list[str]) -> tuple[list[list[str]], int]:
    """Override lists that try every value of every swept key once, and the number of
    members of the sweep (the product of the lists' lengths, as Hydra runs them).

    Member 0 takes the first value of each sweep; each further list changes one key
    to one of its other values, so a sweep of 20 x 4 x 3 values is checked with 25
    compositions, not 240.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    choices = []
    for override in OverridesParser.create().parse_overrides(overrides):
        if override.is_sweep_override():
            key = override.get_key_element()
            values = override.sweep_string_iterator()
            choices.append([f"{key}={value}" for value in values])
        else:
            choices.append([override.input_line])
    first = [values[0] for values in choices]
    members = [first]
    for i, values in enumerate(choices):
        members += [[*first[:i], value, *first[i + 1 :]] for value in values[1:]]
    return members, math.prod(len(values) for values in choices)


QUOTED_ONLY = ("$", "`", "\n")
"""Characters Hydra's override grammar reads only inside a quoted value."""


def needs_quoting(message: str, overrides: list[str]) -> bool:
    """Whether Hydra's parse error comes from a value that must be quoted: one
    holding non-ASCII characters or any of ``QUOTED_ONLY``."""
    parse_error = "LexerNoViableAlt" in message or "mismatched input" in message
    return parse_error and any(
        not o.isascii() or any(c in o for c in QUOTED_ONLY) for o in overrides
    )


def check_overrides_compose(command: str, overrides: list[str]) -> None:
    """Compose the config of the run (or of every sweep member) before anything runs,
    so a bad value fails in one line; with ``launcher=slurm``, ask SLURM whether it
    would accept the array job (``sbatch --test-only``).

    Skipped when Hydra is asked for something else (``--cfg``, ``--help``, ...).
    """
    from hydra import compose, initialize_config_module
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    flags = [o for o in overrides if o.startswith("-")]
    if any(flag not in MULTIRUN_FLAGS for flag in flags):
        return
    plain = [o for o in overrides if not o.startswith("-")]
    try:
        members, count = sweep_members(plain) if flags else ([plain], 1)
        with initialize_config_module("return_landscapes.conf", version_base=None):
            configs = [
                compose(config_name=command, overrides=m, return_hydra_config=True)
                for m in members
            ]
    except (HydraException, OmegaConfBaseException) as err:
        detail = str(err.__cause__ or "").splitlines()[:1]
        message = ": ".join([str(err).splitlines()[0], *detail])
        if needs_quoting(message, plain):
            message += (
                " (Hydra reads an unquoted value in plain ASCII only: quote one with "
                "other characters ($, `, a newline, non-ASCII), as in "
                "'out=\"runs/héllo\"')"
            )
        raise LandscapeError(message) from None
    check_member_values(COMMANDS[command], configs, sweep=bool(flags))
    if flags and configs[0].hydra.runtime.choices.get("launcher") == "slurm":
        from return_landscapes.slurm import check_sbatch_accepts

        check_sbatch_accepts(configs[0].hydra.launcher, count)


def primary_config(command: str) -> dict:
    """The Hydra config ``landscape <command>`` composes: the command's typed schema
    with its defaults, the launcher group (``launcher=basic`` unless chosen), no
    Hydra logging or output folder of its own, and sweep members' logs under
    ``multirun/<date>/<time>-<command>``."""
    return {
        "defaults": [
            f"{command}_schema",
            "_self_",
            {"launcher": "basic"},
            {"override hydra/job_logging": "none"},
            {"override hydra/hydra_logging": "none"},
        ],
        "hydra": {
            "output_subdir": None,
            "run": {"dir": "."},
            "sweep": {  # results always go to the run directories
                "dir": f"multirun/${{now:%Y-%m-%d}}/${{now:%H-%M-%S}}-{command}",
                "subdir": "${hydra.job.num}",
            },
            "job": {"name": command, "chdir": False},
        },
    }


def register_configs() -> None:
    """Register every command's schema and its primary config with Hydra (the
    ``launcher`` group is read from ``conf/launcher/*.yaml``)."""
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    for command, declared in COMMANDS.items():
        store.store(name=f"{command}_schema", node=declared.config)
        store.store(name=command, node=primary_config(command))


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``landscape`` console script."""
    argv = sys.argv[1:] if argv is None else argv
    configure_xla()  # before JAX starts: the command's XLA settings (_xla.py)
    show_logs()
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return
    command, overrides = argv[0], argv[1:]
    with user_errors():
        if command not in COMMANDS:
            raise LandscapeError(
                f"unknown command '{command}': choose one of {', '.join(COMMANDS)}"
            )
        schema = COMMANDS[command].config
        if any(flag in HELP_FLAGS for flag in overrides):
            print(command_help(command))
            return
        overrides = rename_overrides(schema, overrides)
        check_override_keys(schema, overrides)
        register_configs()
        check_overrides_compose(command, overrides)

    def hydra_task(cfg: DictConfig) -> None:
        # A sweep member may run in a process of its own (submitit): set it up as
        # this one, so its numbers and its log lines are the command's.
        configure_xla()
        show_logs()
        with member_log(command), user_errors():  # the error line lands in the log
            attribute(COMMANDS[command].function)(cfg)

    hydra_task.__module__ = __name__
    sys.argv = [f"landscape-{command}", *overrides]
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")  # raise, to name a failed member
    import hydra

    try:
        hydra.main(config_path="conf", config_name=command, version_base=None)(
            hydra_task
        )()
    except Exception as err:
        if not type(err).__module__.startswith("submitit"):
            raise
        print(
            f"error: a sweep member did not finish ({str(err).splitlines()[0]}); "
            "its log is in the sweep's .submitit folder. Re-run the same command: "
            "finished members are skipped",
            file=sys.stderr,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
