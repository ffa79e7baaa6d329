"""Each option of a command as ``--help`` shows it: key, type, default and its
attribute docstring."""

from __future__ import annotations

from dataclasses import MISSING, fields, is_dataclass
from enum import Enum
from typing import NamedTuple


class Option(NamedTuple):
    """One option of a command, as ``--help`` shows it."""

    key: str  # td3.actor_lr; a config group ends in .*
    kind: str  # its type: float, int | None, td3|sac|ppo (an enum's choices)
    default: str | None  # as typed on the command line (null, true); None for a group
    doc: str  # the field's docstring


def field_docs(schema: type) -> dict[str, str]:
    """Each field's attribute docstring (the string literal right under it), bases
    included; a docstring of several lines is joined into one."""
    docs: dict[str, str] = {}
    for klass in reversed(schema.__mro__):
        if is_dataclass(klass):
            docs.update(_own_field_docs(klass))
    return docs


def _own_field_docs(klass: type) -> dict[str, str]:
    import ast
    import inspect
    import itertools
    import textwrap

    tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
    body = tree.body[0].body
    docs = {}
    for node, after in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def option_names(schema: type) -> list[str]:
    """The fields of ``schema`` in reading order: its own first, then its bases'."""
    names = [f.name for f in fields(schema)]
    ordered = []
    for klass in schema.__mro__:
        for name in vars(klass).get("__annotations__", {}):
            if name in names and name not in ordered:
                ordered.append(name)
    return ordered


def describe_options(schema: type, prefix: str = "") -> list[Option]:
    """Every option of ``schema`` in ``option_names`` order, nested config groups
    (``td3.*``) followed by their options (``td3.actor_lr``)."""
    import typing

    hints = typing.get_type_hints(schema)
    docs = field_docs(schema)
    by_name = {f.name: f for f in fields(schema)}
    rows = []
    for item in (by_name[name] for name in option_names(schema)):
        key, hint = prefix + item.name, hints[item.name]
        doc = docs.get(item.name, "")
        if is_dataclass(hint):
            rows.append(Option(f"{key}.*", hint.__name__, None, doc))
            rows.extend(describe_options(hint, f"{key}."))
        else:
            rows.append(Option(key, _type_name(hint), _default(item), doc))
    return rows


def _type_name(hint) -> str:
    """``int | None``, ``list[int]``, or an enum's choices ``td3|sac|ppo``."""
    import types
    import typing

    if isinstance(hint, type) and issubclass(hint, Enum):
        return "|".join(member.name for member in hint)
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return " | ".join(_type_name(arg) for arg in args)
    if args:
        inner = ", ".join(_type_name(arg) for arg in args)
        return f"{typing.get_origin(hint).__name__}[{inner}]"
    return "None" if hint is type(None) else hint.__name__


def _default(item) -> str:
    """A field's default as a command-line value (``null``, ``true``, ``[64,64]``)."""
    if item.default is not MISSING:
        value = item.default
    elif item.default_factory is not MISSING:
        value = item.default_factory()
    else:
        return "???"
    return _value_text(value)


def _value_text(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, list):
        return "[" + ",".join(_value_text(v) for v in value) + "]"
    return str(value)
