"""One geo fit with its memory watched: ``python -m bench.geo_memory_run SPEC.json OUT.json``.

The spec (written by :mod:`bench.geo_memory`) names the generator config, the model config
and a mode. In a fresh process this draws the data, fits the geo model (``fit()``), builds the
summary, saves ``fit.nc``, loads it back and builds the summary and figures of the loaded fit.
A thread reads the process's resident set size (``/proc/self/statm``) every 10 ms and keeps the
largest value seen in each phase; the phases inside ``fit()`` (building, sampling, the
deterministics, the predictive draws, the diagnostics) are told apart by wrapping the functions
``fit`` calls, so nothing in the package is instrumented for the benchmark.

Modes:

- ``sample``: nutpie samples for real; its raw draws (the free variables, sample statistics,
  observed and constant data) are also written to ``draws_file``;
- ``replay``: no sampling: the draws of a ``sample`` run are read from ``draws_file`` and
  repeated ``repeat`` times along the draw dimension, and everything after sampling runs on them
  as it would on that many sampled draws. What follows sampling depends on the number of draws,
  not on their values, so this measures its memory at a draw count that the 2-core benchmark
  machine could not sample in minutes at this size.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mib() -> float:
    """The process's resident set size now, MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE / 2**20


class RssWatch:
    """Largest resident set size per phase, sampled by a thread every ``interval`` seconds."""

    def __init__(self, interval: float = 0.01) -> None:
        self.phase = "between"
        self.peaks: dict[str, float] = {}
        self.order: list[str] = []
        self.start_rss: dict[str, float] = {}
        self._interval = interval
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _note(self) -> None:
        value = rss_mib()
        with self._lock:
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0.0), value)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._note()

    def start(self) -> RssWatch:
        """Start sampling."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sampling (one last sample first)."""
        self._note()
        self._stop.set()
        self._thread.join()

    def enter(self, phase: str) -> str:
        """Switch to ``phase``; returns the phase it replaces."""
        self._note()
        with self._lock:
            previous, self.phase = self.phase, phase
            if phase not in self.order:
                self.order.append(phase)
                self.start_rss[phase] = rss_mib()
        self._note()
        return previous

    @contextmanager
    def during(self, phase: str) -> Iterator[None]:
        """Attribute what runs inside the block to ``phase``, then return to the phase before."""
        previous = self.enter(phase)
        try:
            yield
        finally:
            self.enter(previous)


def _wrap(module: Any, name: str, watch: RssWatch, phase: str) -> None:
    """Make ``module.name`` count as ``<current phase>:<phase>`` (if the module has it)."""
    inner = getattr(module, name, None)
    if inner is None:
        return

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        outer = watch.phase.split(":")[0]
        with watch.during(f"{outer}:{phase}"):
            return inner(*args, **kwargs)

    setattr(module, name, wrapped)


def _raw_draws(idata: Any, free: list[str]) -> Any:
    """What the sampler returned: free variables, sample statistics, observed/constant data."""
    import xarray as xr

    post = idata["posterior"].to_dataset()
    tree = xr.DataTree.from_dict(
        {
            "posterior": post[[v for v in free if v in post.data_vars]],
            **{
                g: idata[g].to_dataset()
                for g in ("sample_stats", "observed_data", "constant_data")
                if g in idata.children
            },
        }
    )
    tree.attrs = dict(idata.attrs)
    return tree


def _tiled(idata: Any, repeat: int) -> Any:
    """``idata`` with its posterior and sample statistics repeated ``repeat`` times along draw."""
    import numpy as np
    import xarray as xr

    out = idata.copy()
    for group in ("posterior", "sample_stats"):
        ds = idata[group].to_dataset()
        keep = [v for v in ds.data_vars if ds[v].dtype != object]
        ds = xr.concat([ds[keep]] * repeat, dim="draw")
        out[group] = xr.DataTree(ds.assign_coords(draw=np.arange(ds.sizes["draw"])))
    return out


def _sampler(spec: dict[str, Any], fit_module: Any) -> list[str]:
    """Route ``fit``'s sampling through the spec's mode (see the module docstring).

    Returns the list that the sampled variables' names are put in when sampling starts.
    """
    import xarray as xr

    draws_file = Path(spec["draws_file"])
    real = fit_module.sample_posterior
    free: list[str] = []

    def sample(model: Any, sampler: Any, **kwargs: Any) -> Any:
        free[:] = [rv.name for rv in model.free_RVs]
        if spec["mode"] == "replay":
            raw = xr.open_datatree(draws_file, engine="h5netcdf").load()
            return _tiled(raw, int(spec.get("repeat", 1)))
        idata = real(model, sampler, **kwargs)
        _raw_draws(idata, [rv.name for rv in model.free_RVs]).to_netcdf(
            draws_file, engine="h5netcdf"
        )
        return idata

    fit_module.sample_posterior = sample
    return free


#: Functions that ``mediamix.inference.fit`` calls, by the phase they are counted in.
FIT_PHASES = {
    "build_model": "build",
    "sample_posterior": "sampling",
    "add_deterministics": "deterministics",
    "add_predictive": "predictive",
    "compact_draws": "compact",
    "compute_diagnostics": "diagnostics",
}


def _timed(watch: RssWatch, phase: str, times: dict[str, float], fn: Callable[[], Any]) -> Any:
    t0 = time.perf_counter()
    with watch.during(phase):
        out = fn()
    times[phase] = times.get(phase, 0.0) + time.perf_counter() - t0
    return out


def main() -> None:
    """Run the spec's fit and write its memory record."""
    spec = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2])
    watch = RssWatch().start()
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    with watch.during("imports"):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from bench.geo_data import generate_geo
        from bench.metrics import array_sizes
        from mediamix.analysis.plots import figures_for_fit
        from mediamix.analysis.summary import fit_summary
        from mediamix.config.base import parse_config
        from mediamix.config.model import ModelConfig
        from mediamix.inference import fit as fit_module
        from mediamix.inference.diagnostics import ConvergenceWarning
    times["imports"] = time.perf_counter() - t0
    free_vars = _sampler(spec, fit_module)
    for name, phase in FIT_PHASES.items():
        _wrap(fit_module, name, watch, phase)
    data = _timed(watch, "data", times, lambda: generate_geo(Path(spec["generator_config"])))
    config = parse_config(ModelConfig, spec["model_config"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fits = [_timed(watch, "fit", times, lambda: fit_module.fit(data.data, config))]
    idata = fits[0].idata
    arrays = array_sizes({g: idata[g].to_dataset() for g in idata.children})
    draws_total = int(idata["posterior"].sizes["chain"] * idata["posterior"].sizes["draw"])
    del idata
    _timed(watch, "summary", times, lambda: fit_summary(fits[0]))
    path = Path(spec["work_dir"]) / "fit.nc"
    _timed(watch, "save", times, lambda: fits[0].save(path))
    fits.clear()  # the loaded fit replaces it, as in a later process
    gc.collect()
    loaded = _timed(watch, "load", times, lambda: fit_module.load_fit(path))
    _timed(watch, "summary_loaded", times, lambda: fit_summary(loaded))
    figures = _timed(watch, "figures", times, lambda: figures_for_fit(loaded))
    for fig in figures.values():
        plt.close(fig)
    watch.stop()
    record = {
        "spec": spec,
        "phases": [
            {
                "phase": p,
                "peak_rss_mib": watch.peaks.get(p, float("nan")),
                "start_rss_mib": watch.start_rss[p],
                "seconds": times.get(p),
            }
            for p in watch.order
        ],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "arrays": arrays,
        "fit_nc_mib": path.stat().st_size / 2**20,
        "draws_total": draws_total,
        "free_vars": free_vars,
        "timings": loaded.timings,
    }
    out.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
