"""What machine a benchmark ran on, and the library versions of both environments."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

#: Versions reported for every environment, after the environment's own library.
COMMON = ["pymc", "pytensor", "nutpie", "numba", "numpy", "arviz"]
#: Further versions reported for one environment (by its label).
EXTRA = {"google-meridian": ["tensorflow", "tfp-nightly", "jax"]}


def _first_match(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def memory_gib() -> float | None:
    """Total memory from ``/proc/meminfo`` (Linux), in GiB."""
    total = _first_match("/proc/meminfo", "MemTotal")
    return round(int(total.split()[0]) / 1024**2, 1) if total else None


def env_versions(python: str | Path, packages: list[str]) -> dict[str, str]:
    """Versions of ``packages`` as installed for the interpreter ``python``.

    Returns an empty mapping when the interpreter cannot be run.
    """
    code = (
        "import json, sys; from bench.metrics import versions; "
        f"print(json.dumps({{'python': sys.version.split()[0], **versions({packages!r})}}))"
    )
    root = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(
            [str(python), "-c", code], cwd=root, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return {}
    parsed: dict[str, str] = json.loads(out.stdout)
    return parsed


def describe(envs: dict[str, str | Path]) -> dict[str, Any]:
    """The machine and the environments' library versions.

    Parameters
    ----------
    envs : dict
        Environment label (the name of its library, e.g. ``pymc-marketing``) -> its Python
        interpreter.

    Returns
    -------
    dict
        ``date`` (UTC), ``platform``, ``cpu_model``, ``cpu_count``, ``memory_gib``,
        ``load_average`` (1, 5, 15 min, at the time of the call) and ``versions`` per
        environment.
    """
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "platform": platform.platform(),
        "cpu_model": _first_match("/proc/cpuinfo", "model name") or platform.processor(),
        "cpu_count": os.cpu_count(),
        "memory_gib": memory_gib(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "versions": {
            label: env_versions(python, [label, *COMMON, *EXTRA.get(label, [])])
            for label, python in envs.items()
        },
    }
