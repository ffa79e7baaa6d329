"""The ``landscape`` command: ``landscape <command> key=value ...`` (Hydra overrides).

Each command is a typed Hydra config (``conf/<command>.yaml`` over a dataclass schema)
and one Python function. Bad input ends in one ``error:`` line and exit status 2.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import typing

import hydra
from omegaconf import DictConfig

from return_landscapes.conf import (
    DemoConfig,
    InterpolateConfig,
    PurdConfig,
    RejectConfig,
    ReportConfig,
    StatsConfig,
    TrainConfig,
    register_configs,
)
from return_landscapes.errors import LandscapeError

USAGE = """usage: landscape <command> [key=value ...] [--multirun]

commands:
  demo    the whole pipeline, small: train, PURD, paths, rejection, report
          e.g. landscape demo     (writes demo/hopper-td3 and demo/report)
  train   train TD3, SAC or PPO agents, many seeds vmapped, with checkpoints
          e.g. landscape train env=hopper algo=td3 seeds=4 steps=200000 out=runs/h
  purd    post-update return distributions of a run's checkpoints
          e.g. landscape purd run=runs/h perturb=td3 scale=3e-4 samples=1000
  interpolate
          returns and PURDs along straight paths between checkpoints
          e.g. landscape interpolate run=runs/h pairs=cross_seed points=100
  reject  post-update CVaR rejection (Algorithm 1) from a checkpoint
          e.g. landscape reject run=runs/h checkpoint=150000 criterion=cvar
  stats   mean, std, median, skew, mode, LTP, CVaR per seed x checkpoint;
          writes <run>/landscape/stats.csv
          e.g. landscape stats run=runs/h
  report  an HTML page with figures, PNGs and the statistics as CSV
          e.g. landscape report runs=[runs/h] out=report

Options are Hydra overrides; `landscape <command> --cfg job` prints every option."""


def _train(cfg: DictConfig) -> None:
    from return_landscapes.run import train

    train(cfg)


def _purd(cfg: DictConfig) -> None:
    from return_landscapes.landscape.purd import purd

    purd(cfg)


def _interpolate(cfg: DictConfig) -> None:
    from return_landscapes.landscape.interpolate import interpolate

    interpolate(cfg)


def _reject(cfg: DictConfig) -> None:
    from return_landscapes.landscape.reject import reject

    reject(cfg)


def _stats(cfg: DictConfig) -> None:
    from return_landscapes.landscape.stats_table import stats

    stats(cfg)


def _report(cfg: DictConfig) -> None:
    from return_landscapes.report.build import report

    report(cfg)


def _demo(cfg: DictConfig) -> None:
    from return_landscapes.demo import demo

    demo(cfg)


COMMANDS: dict[str, tuple[type, typing.Callable[[DictConfig], None]]] = {
    "train": (TrainConfig, _train),
    "purd": (PurdConfig, _purd),
    "interpolate": (InterpolateConfig, _interpolate),
    "reject": (RejectConfig, _reject),
    "stats": (StatsConfig, _stats),
    "report": (ReportConfig, _report),
    "demo": (DemoConfig, _demo),
}


@contextlib.contextmanager
def user_errors():
    """Turn a ``LandscapeError`` into one ``error:`` line on stderr and exit 2."""
    try:
        yield
    except LandscapeError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


def check_override_keys(schema: type, overrides: list[str]) -> None:
    """Fail on an unknown ``key=value`` key, listing the valid keys at that level."""
    for override in overrides:
        if override.startswith("-") or "=" not in override:
            continue
        key = override.split("=", 1)[0].lstrip("+~")
        if key.startswith("hydra.") or key == "hydra":
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
                    f"{', '.join(hints)}"
                )
            node = hints[part]


def check_overrides_compose(command: str, overrides: list[str]) -> None:
    """Compose the config once up front so a bad value fails in one line.

    Skipped for ``--multirun`` sweeps (comma lists do not compose as single values);
    Hydra reports those itself.
    """
    from hydra import compose, initialize_config_module
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    if any(o.startswith("-") for o in overrides):
        return
    plain = [o for o in overrides if not o.lstrip("+~").startswith("hydra")]
    try:
        with initialize_config_module("return_landscapes.conf", version_base=None):
            compose(config_name=command, overrides=plain)
    except (HydraException, OmegaConfBaseException) as err:
        detail = str(err.__cause__ or "").splitlines()[:1]
        raise LandscapeError(": ".join([str(err).splitlines()[0], *detail])) from None


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``landscape`` console script."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return
    command, overrides = argv[0], argv[1:]
    with user_errors():
        if command not in COMMANDS:
            raise LandscapeError(
                f"unknown command '{command}': choose one of {', '.join(COMMANDS)}"
            )
        schema, task = COMMANDS[command]
        check_override_keys(schema, overrides)
        register_configs()
        check_overrides_compose(command, overrides)

    def hydra_task(cfg: DictConfig) -> None:
        with user_errors():
            task(cfg)

    hydra_task.__module__ = __name__
    sys.argv = [f"landscape-{command}", *overrides]
    hydra.main(config_path="conf", config_name=command, version_base=None)(hydra_task)()


if __name__ == "__main__":
    main()
