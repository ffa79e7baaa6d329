"""The ranges of numeric options, declared beside the options (a config class's
``RANGES``) and checked when a config is resolved: one ``error:`` line naming the
option, its value and its range, before anything is built or written."""

from __future__ import annotations

import math
from dataclasses import MISSING, Field, fields, is_dataclass
from typing import NamedTuple


class Range(NamedTuple):
    """Finite numbers between ``low`` and ``high``; ``*_open``: the bound excluded.
    A list option holds at least ``min_items`` values, each in the range."""

    low: float
    high: float = math.inf
    low_open: bool = False
    high_open: bool = True
    min_items: int = 0

    def holds(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def text(self) -> str:
        """What the value must do, after "must": ``lie in (0, 1]``."""
        if self.high != math.inf:
            left = "(" if self.low_open else "["
            right = ")" if self.high_open else "]"
            return f"lie in {left}{self.low:g}, {self.high:g}{right}"
        if self.low_open:
            return f"be a finite number > {self.low:g}"
        return f"be at least {self.low:g}"


POSITIVE = Range(0.0, low_open=True)  # learning rates, epsilons, norms
NON_NEGATIVE = Range(0.0)  # noise scales, loss weights
AT_LEAST_ONE = Range(1.0)  # sizes and counts
LAYER_WIDTHS = Range(1.0, min_items=1)  # hidden layers: one or more, each >= 1 wide
UNIT = Range(0.0, 1.0, low_open=True, high_open=False)  # (0, 1]: tau, gamma, alpha
FRACTION = Range(0.0, 1.0, high_open=False)  # [0, 1]: GAE lambda, LTP threshold
OPEN_UNIT = Range(0.0, 1.0, low_open=True)  # (0, 1): confidence levels


def declared_ranges(schema: type) -> dict[str, Range]:
    """``RANGES`` of ``schema`` and its bases (a subclass's entry wins)."""
    ranges: dict[str, Range] = {}
    for klass in reversed(schema.__mro__):
        ranges.update(vars(klass).get("RANGES", {}))
    return ranges


def range_problem(config, prefix: str = "") -> str | None:
    """The first option of ``config`` (nested groups too) outside its declared
    range, as a message; ``None`` if all hold. Unset (``None``) options pass, and a
    list must hold ``min_items`` elements or more, every one in the range."""
    ranges = declared_ranges(type(config))
    for item in fields(config):
        value = getattr(config, item.name)
        key = prefix + item.name
        if is_dataclass(value):
            problem = range_problem(value, f"{key}.")
            if problem:
                return problem
            continue
        bound = ranges.get(item.name)
        if bound is None or value is None or isinstance(value, bool):
            continue
        if isinstance(value, list | tuple):
            problem = _list_problem(key, value, bound, item)
            if problem:
                return problem
        elif not bound.holds(float(value)):
            return f"{key}={value} must {bound.text()}"
    return None


def _list_problem(key: str, values, bound: Range, item: Field) -> str | None:
    """What is wrong with the list option ``key`` (its dataclass field ``item``):
    too few values (the fix: its default), or one outside ``bound``."""
    shown = ",".join(str(v) for v in values)
    if len(values) < bound.min_items:
        least = "one value" if bound.min_items == 1 else f"{bound.min_items} values"
        problem = f"{key}=[{shown}] must list at least {least}"
        problem += f", each must {bound.text()}"
        if item.default_factory is not MISSING:
            default = ",".join(str(v) for v in item.default_factory())
            problem += f": pass e.g. its default, {key}=[{default}]"
        return problem
    if not all(bound.holds(float(v)) for v in values):
        return f"{key}=[{shown}]: each must {bound.text()}"
    return None
