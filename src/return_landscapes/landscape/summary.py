"""One summary row per stored landscape result, for the optional wandb mirror.

Each experiment declares its ``Summary`` beside its science (the attributes that
identify a result and the headline numbers of its arrays) and passes it with every
block it writes (``job.write_result``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

from return_landscapes.tracking import log_row


class Summary(NamedTuple):
    """How a kind of result is summarized in one row.

    Attributes:
      identity: the attributes that identify a block (``checkpoint``, ``seed``, ...).
      headline: the numbers of a block's arrays worth a glance, by name.
    """

    identity: tuple[str, ...]
    headline: Callable[[Mapping[str, Any]], dict[str, float]]


def log_result(arrays: Mapping, attrs: Mapping, summary: Summary) -> None:
    """Log a summary of one stored result to the active wandb run, if any."""
    log_row(lambda: result_summary(arrays, attrs, summary))


def result_summary(arrays: Mapping, attrs: Mapping, summary: Summary) -> dict:
    """A flat row describing one result: ``<kind>/<name>`` of its identity and of
    its headline numbers."""
    kind = attrs["kind"]
    row = {f"{kind}/{key}": attrs[key] for key in summary.identity}
    row |= {f"{kind}/{k}": v for k, v in summary.headline(arrays).items()}
    return row


def plain_and_purd_range(arrays: Mapping) -> dict[str, float]:
    """The headline of points with a plain return and, where sampled, a PURD each
    (paths' and grids' blocks): the plain returns' range, the lowest PURD mean."""
    plain = np.asarray(arrays["plain_return"])
    row = {"plain_min": float(plain.min()), "plain_max": float(plain.max())}
    if np.shape(arrays["undiscounted_return"])[0] > 0:
        means = np.asarray(arrays["undiscounted_return"]).mean(axis=0)
        row["purd_mean_min"] = float(means.min())
    return row
