"""The compile cache's key and root: which archive fits this machine, and where archives live.

The key (:func:`cache_key`) changes with everything that makes compiled code invalid: the Python
build, the versions of PyTensor, numba, llvmlite, nutpie, numpy and mediamix, the machine
architecture and the CPU as numba's LLVM compiles for it (name and features; numba keys its own
cache entries the same way). The root is the persistent folder that holds the archives
(:func:`resolve_root`): a folder given by the user, or :data:`AUTO` for the ``cache`` Volume on
Databricks. Only the standard library is imported (llvmlite, when asked for the CPU), so a
command can compute both before PyTensor loads. The archives themselves:
:mod:`mediamix.inference.compile_cache`.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

from mediamix.lakehouse.names import DEFAULT_CATALOG, DEFAULT_SCHEMA, volume_path
from mediamix.runtime import on_databricks

__all__ = [
    "AUTO",
    "CACHE_VOLUME",
    "ENV_VAR",
    "KEYED_PACKAGES",
    "OPTION_HELP",
    "cache_key",
    "default_root",
    "host_cpu",
    "key_parts",
    "resolve_root",
    "root_setting",
]

#: The environment variable that names the root when no option does.
ENV_VAR = "MEDIAMIX_COMPILE_CACHE"
#: A root value meaning "the cache Volume of the catalog and schema on Databricks, none elsewhere".
AUTO = "auto"
#: The Volume that :data:`AUTO` names (created by ``RUNME.py``).
CACHE_VOLUME = "cache"
#: Packages whose version is part of the key: each one generates or compiles the cached code.
KEYED_PACKAGES = ("pytensor", "numba", "llvmlite", "nutpie", "numpy", "mediamix")
#: The help of every command's ``--compile-cache`` option.
OPTION_HELP = (
    "folder that keeps compiled code between runs on fresh machines, e.g. the Volume folder "
    "/Volumes/main/mediamix/cache/compile (default: $MEDIAMIX_COMPILE_CACHE; 'auto': that "
    "folder on Databricks; empty: none)"
)


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def _cpuinfo() -> str:
    """The first processor's model name and flags (``/proc/cpuinfo``), else its platform name."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor()
    wanted = {"model name", "flags", "Features", "CPU part"}
    lines = (line.partition(":") for line in text.split("\n\n", 1)[0].splitlines())
    return " | ".join(f"{k.strip()}: {v.strip()}" for k, _, v in lines if k.strip() in wanted)


def host_cpu() -> str:
    """The CPU as numba compiles for it: LLVM's host CPU name and features.

    numba honours ``NUMBA_CPU_NAME`` and ``NUMBA_CPU_FEATURES`` (portable builds), so they win
    here too; without llvmlite, the model name and flags of ``/proc/cpuinfo``.
    """
    try:
        from llvmlite import binding  # type: ignore[import-untyped]

        name = os.environ.get("NUMBA_CPU_NAME") or binding.get_host_cpu_name()
        features = os.environ.get("NUMBA_CPU_FEATURES") or binding.get_host_cpu_features().flatten()
    except (ImportError, RuntimeError):
        return _cpuinfo()
    return f"{name} {features}"


def key_parts() -> dict[str, str]:
    """What the key is made of: Python, package versions, architecture and CPU.

    Returns
    -------
    dict
        ``{"python": ..., "machine": ..., "cpu": ..., "<package>": version, ...}``; a package
        that is not installed counts as ``unknown``.
    """
    parts = {
        "python": f"{sys.implementation.name} {sys.version}",
        "machine": f"{platform.system()} {platform.machine()}",
        "cpu": host_cpu(),
    }
    return parts | {name: _version(name) for name in KEYED_PACKAGES}


def cache_key(parts: Mapping[str, str] | None = None) -> str:
    """The archive's name (without suffix) for this machine and software stack.

    Parameters
    ----------
    parts : mapping, optional
        What the key is made of; :func:`key_parts` by default.

    Returns
    -------
    str
        ``<python tag>-<arch>-<24 hex digits>``, e.g. ``cpython-312-x86_64-3f9c...``: readable
        prefix, and a hash that changes when any part does.
    """
    parts = key_parts() if parts is None else parts
    digest = hashlib.sha256(json.dumps(dict(parts), sort_keys=True).encode()).hexdigest()
    return f"{sys.implementation.cache_tag}-{platform.machine() or 'any'}-{digest[:24]}"


def default_root(catalog: str = DEFAULT_CATALOG, schema: str = DEFAULT_SCHEMA) -> str:
    """The root :data:`AUTO` stands for on Databricks: ``/Volumes/<c>/<s>/cache/compile``."""
    return f"{volume_path(catalog, schema, CACHE_VOLUME)}/compile"


def resolve_root(
    value: str | None, *, catalog: str = DEFAULT_CATALOG, schema: str = DEFAULT_SCHEMA
) -> Path | None:
    """The root a setting names, or None for no cache.

    Parameters
    ----------
    value : str, optional
        A folder; :data:`AUTO` (:func:`default_root` on Databricks, no cache elsewhere, where
        PyTensor's own compile directory already lasts between runs); empty or None: no cache.
    catalog, schema : str
        Where :data:`AUTO`'s Volume is.

    Returns
    -------
    Path or None
    """
    text = (value or "").strip()
    if not text:
        return None
    if text == AUTO:
        return Path(default_root(catalog, schema)) if on_databricks() else None
    return Path(text).expanduser()


def root_setting(option: str | None, env: Mapping[str, str] | None = None) -> Path | None:
    """The root a command uses: its ``--compile-cache``, else ``$MEDIAMIX_COMPILE_CACHE``.

    Parameters
    ----------
    option : str, optional
        The option's value; None when it was not given (an empty value turns the cache off,
        whatever the environment says).
    env : mapping, optional
        Where :data:`ENV_VAR` is read (``os.environ`` by default).

    Returns
    -------
    Path or None
        As :func:`resolve_root`.
    """
    env = os.environ if env is None else env
    return resolve_root(option if option is not None else env.get(ENV_VAR))
