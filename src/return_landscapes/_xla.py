"""XLA settings for the CPU, applied by the command line and ``configure_xla()``.

* ``--xla_cpu_experimental_ynn_fusion_type=``: on the CPU, XLA 0.10's YNNPACK fusions
  make Brax physics 2 to 2.4 times slower than XLA's own code (2048 spring envs on a
  2-core machine: hopper 74k vs 181k env-steps/s, halfcheetah 11k vs 22k;
  ``benchmarks/xla_cpu_flags.py`` measures it); the flag turns them off.
* ``--xla_cpu_max_isa=AVX2`` (x86-64 only): XLA's CPU code depends on the vector
  width, so AVX2 and AVX-512 code compute other last bits (15 of 24 samples of a
  paper-size PURD differed: ``benchmarks/isa_difference.py``). With the flag an
  AVX-512 machine runs the code an AVX2 machine runs, and their results can be
  compared sample by sample. The invariants the tests check (chunk size, device
  count, ...) hold under either.

Both change the last bits of results, so every run and stored result records the
effective ``XLA_FLAGS``.

Importing the package changes nothing: XLA aborts on a flag that another jaxlib does
not know, and the flags would change a user's own JAX code. The ``landscape`` command
applies them; Python users call ``configure_xla()`` before JAX first compiles
anything to get the command's numbers and speed. They are applied only with the
jaxlib versions in ``KNOWN_JAXLIB``; a flag already in ``XLA_FLAGS`` keeps its value.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
from importlib import metadata

YNN_FLAG = "--xla_cpu_experimental_ynn_fusion_type"
ISA_FLAG = "--xla_cpu_max_isa"
# The jaxlib versions checked to accept both flags (XLA aborts on a flag it does not
# know): each in a fresh venv, the flags set and a jitted computation run.
KNOWN_JAXLIB = ("0.10.0", "0.10.1", "0.10.2", "0.12.0", "0.12.0.1", "0.12.1")
X86_64 = ("x86_64", "amd64")

logger = logging.getLogger(__name__)


def jaxlib_version() -> str | None:
    """The installed jaxlib's version, read without importing it."""
    try:
        return metadata.version("jaxlib")
    except metadata.PackageNotFoundError:
        return None


def backend_started() -> bool:
    """Whether JAX has already started a backend (then XLA_FLAGS no longer apply)."""
    if "jax" not in sys.modules:
        return False
    from jax._src import xla_bridge

    return xla_bridge.backends_are_initialized()


def package_flags() -> dict[str, str]:
    """The flags this package sets, by name: the value each gets."""
    flags = {YNN_FLAG: ""}
    if platform.machine().lower() in X86_64:
        flags[ISA_FLAG] = "AVX2"
    return flags


def configure_xla() -> bool:
    """Add the package's XLA flags to ``XLA_FLAGS``; whether they are in effect.

    Call before JAX first compiles anything. Does nothing with a jaxlib version not
    in ``KNOWN_JAXLIB``; a flag ``XLA_FLAGS`` already sets keeps the user's value.
    Returns ``False`` and logs a warning if JAX's backend already started.
    """
    flags = os.environ.get("XLA_FLAGS", "")
    missing = {k: v for k, v in package_flags().items() if k not in flags}
    if not missing:
        return True
    if jaxlib_version() not in KNOWN_JAXLIB:
        # debug: an info line would follow every one-line error of the command
        logger.debug("jaxlib %s: %s not applied", jaxlib_version(), ", ".join(missing))
        return False
    if backend_started():
        logger.warning(
            "JAX's backend already started: %s not applied; call configure_xla() "
            "before any JAX computation",
            ", ".join(missing),
        )
        return False
    added = " ".join(f"{name}={value}" for name, value in missing.items())
    os.environ["XLA_FLAGS"] = f"{flags} {added}".strip()
    return True


def effective_xla_flags() -> str:
    """``XLA_FLAGS`` as this process runs with it (recorded with every result)."""
    return os.environ.get("XLA_FLAGS", "")
