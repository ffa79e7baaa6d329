"""Reading other libraries' pickles without running their code.

A pickle names the functions and classes (its *globals*) that rebuild its objects,
and the standard unpickler imports and calls whatever it names: a file can run
``os.system``. ``restricted_load`` resolves only the globals its caller allows, each
to a stand-in chosen here (numpy's own array constructors, or a plain record for a
foreign class), and refuses every other global before calling anything. Nothing of
the library that wrote the file is imported.
"""

from __future__ import annotations

import pickle
import types
from collections.abc import Callable, Mapping
from typing import IO, Any

import numpy as np
from numpy._core.multiarray import _reconstruct, scalar


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle names a global outside the allowlist (``name``: ``module.name``)."""

    def __init__(self, name: str):
        super().__init__(f"the file names the global {name}, which is not allowed")
        self.name = name


def record(class_name: str) -> type:
    """A stand-in for a foreign class: its instances keep the fields the pickle
    gives them (positional arguments under ``args``, a dict state as attributes,
    any other state under ``state``)."""

    def __init__(self, *args, **fields):
        types.SimpleNamespace.__init__(self, **fields)
        if args:
            self.args = args

    def __setstate__(self, state):
        if (
            isinstance(state, tuple)
            and len(state) == 2
            and all(isinstance(part, dict | None) for part in state)
        ):  # (dict, slots)
            state = {**(state[0] or {}), **(state[1] or {})}
        if isinstance(state, dict):
            self.__dict__.update(state)
        else:  # a state that is not fields (e.g. a generator's): kept whole
            self.state = state

    return type(
        class_name,
        (types.SimpleNamespace,),
        {"__init__": __init__, "__setstate__": __setstate__},
    )


def _numpy_reconstruct(constructor, args, array_state, aval_state):
    """``jax._src.array._reconstruct_array`` without JAX: the numpy array a JAX
    array was pickled from. ``constructor`` came through the allowlist."""
    del aval_state  # the device and weak type of the JAX array that was saved
    value = constructor(*args)
    value.__setstate__(array_state)
    return value


NUMPY_ARRAYS: dict[tuple[str, str], Callable] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.multiarray", "scalar"): scalar,
    ("numpy._core.multiarray", "scalar"): scalar,
    ("jax._src.array", "_reconstruct_array"): _numpy_reconstruct,
}
"""The globals of pickled numpy and JAX arrays, to numpy's own constructors (JAX
arrays come back as numpy arrays)."""


class _Restricted(pickle.Unpickler):
    def __init__(self, file, allowed, persistent: Callable[[Any], Any] | None):
        super().__init__(file)
        self.allowed, self.persistent = allowed, persistent

    def find_class(self, module: str, name: str):
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise RefusedGlobal(f"{module}.{name}") from None

    def persistent_load(self, pid):
        if self.persistent is None:
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        return self.persistent(pid)


def restricted_load(
    file: IO[bytes],
    allowed: Mapping[tuple[str, str], Any],
    persistent_load: Callable[[Any], Any] | None = None,
) -> Any:
    """The object pickled in ``file``, with only the ``allowed`` globals.

    Args:
      file: the pickle, opened in binary mode.
      allowed: ``{(module, name): stand-in}``: what each allowed global resolves
        to (e.g. ``NUMPY_ARRAYS``, or ``record("Name")`` for a foreign class).
      persistent_load: for formats that keep data beside the pickle (torch's
        archives): ``persistent_load(pid)``, the object a persistent id stands for.

    Raises:
      RefusedGlobal: the pickle names a global outside ``allowed`` (nothing it
        names has been called).
      pickle.UnpicklingError, and the other errors of a malformed pickle.
    """
    return _Restricted(file, allowed, persistent_load).load()
