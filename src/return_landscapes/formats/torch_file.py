"""Tensors from a file ``torch.save`` wrote, as numpy arrays, without torch.

``torch.save`` writes a zip archive: ``<name>/data.pkl``, a pickle whose tensors
point (by persistent id) at raw storages ``<name>/data/<key>``, and
``<name>/byteorder``. ``read_tensors`` rebuilds each tensor as a numpy array from its
storage, offset, shape and strides, and reads the pickle with ``safe_pickle``: a file
that names any global beyond tensors, storages and ordered dicts is refused.
"""

from __future__ import annotations

import collections
import io
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from return_landscapes.formats.safe_pickle import restricted_load


class _Storage:
    """A stand-in for one of torch's storage classes: the dtype of its elements."""

    def __init__(self, name: str, dtype: str):
        self.name, self.dtype = name, np.dtype(dtype)


STORAGES = {
    "FloatStorage": "float32",
    "DoubleStorage": "float64",
    "HalfStorage": "float16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
}
"""torch's storage classes (as a pickle names them) and their numpy dtypes."""


def _rebuild_tensor(storage, offset, size, stride, *_ignored):
    """``torch._utils._rebuild_tensor_v2``: the tensor as a numpy array (a copy)."""
    itemsize = storage.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[offset:],
        shape=tuple(size),
        strides=tuple(s * itemsize for s in stride),
        writeable=False,
    )
    return np.array(view)


def _rebuild_parameter(data, *_ignored):
    """``torch._utils._rebuild_parameter``: a parameter is its tensor."""
    return data


TORCH_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _Storage(name, dtype) for name, dtype in STORAGES.items()},
}
"""Every global a saved state dict of dense CPU or CUDA tensors names."""


class TorchFileError(ValueError):
    """The file is not an archive ``torch.save`` wrote (the message says why)."""


def read_tensors(file: str | Path | IO[bytes]) -> Any:
    """What ``torch.save`` saved in ``file`` (a path, or bytes opened as a file),
    with every tensor as a numpy array: for a state dict, ``{name: array}``.

    Raises:
      TorchFileError: not a zip archive of ``torch.save``'s format (the legacy
        non-zip format of torch < 1.6 among them).
      safe_pickle.RefusedGlobal: the pickle names a global outside
        ``TORCH_GLOBALS``; nothing it names was called.
    """
    try:
        archive = zipfile.ZipFile(file)
    except zipfile.BadZipFile:
        raise TorchFileError(
            "not a zip archive (torch.save's format since torch 1.6)"
        ) from None
    with archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise TorchFileError(f"{len(pickles)} data.pkl entries, not one")
        prefix = pickles[0][: -len("data.pkl")]
        order = _byteorder(archive, prefix)
        storages: dict[str, np.ndarray] = {}

        def storage(pid):
            kind, storage_type, key, _location, count = pid
            if kind != "storage" or not isinstance(storage_type, _Storage):
                raise TorchFileError(f"unsupported persistent id {pid!r}")
            if key not in storages:
                raw = archive.read(f"{prefix}data/{key}")
                dtype = storage_type.dtype.newbyteorder(order)
                storages[key] = np.frombuffer(raw, dtype, count=count).astype(
                    storage_type.dtype
                )
            return storages[key]

        with archive.open(pickles[0]) as data:
            return restricted_load(io.BytesIO(data.read()), TORCH_GLOBALS, storage)


def _byteorder(archive: zipfile.ZipFile, prefix: str) -> str:
    try:
        order = archive.read(f"{prefix}byteorder").decode().strip()
    except KeyError:
        return "<"  # files of torch < 1.10 were written little-endian only
    if order not in {"little", "big"}:
        raise TorchFileError(f"unknown byteorder {order!r}")
    return "<" if order == "little" else ">"
