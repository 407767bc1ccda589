"""Synthetic MMM data with a recorded ground truth.

A :class:`Generator` draws spend per channel as a random walk rescaled to ``[min, max]``, passes
it through the channel's true adstock and saturation, and adds a baseline (intercept, trend,
yearly seasonality, controls) and Gaussian noise:

``outcome = scale * (intercept + trend + seasonality + controls + sum(effects) + noise)``,
``effect = beta * saturation(adstock(spend / max(spend)))``.

Everything that went into the outcome is kept in :class:`GroundTruth`, so a fit can be checked
against the truth: contributions, ROAS, parameters and the baseline.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mediamix.config.base import ConfigError
from mediamix.config.generator import (
    ChannelConfig,
    ControlConfig,
    GeneratorConfig,
    SignalConfig,
    load_generator_config,
)
from mediamix.model import registry
from mediamix.model.registry import Transform

__all__ = ["GROUP_COLUMN", "Channel", "Generator", "GroundTruth", "GroupedData", "SyntheticData"]

#: The column that names the group of each row in a multi-group data set.
GROUP_COLUMN = "group"

FloatArray = npt.NDArray[np.float64]
_DAYS_PER_YEAR = 365.25


def _rescale(x: FloatArray, low: float, high: float) -> FloatArray:
    span = x.max() - x.min()
    unit = (x - x.min()) / span if span > 0 else np.zeros_like(x)
    return low + unit * (high - low)


def _draw_signal(signal: SignalConfig, n: int, rng: np.random.Generator) -> FloatArray:
    steps = rng.normal(0.0, signal.sigma, size=n)
    return np.abs(np.cumsum(steps)) if signal.base == "walk" else steps


def _stream(seed: int, kind: str, name: str) -> np.random.Generator:
    """An independent random stream for one series, keyed by its kind and name.

    Keying by name rather than position means adding, removing or reordering other series
    never changes this one's draws.
    """
    digest = hashlib.sha256(f"{kind}:{name}".encode()).digest()
    words = np.frombuffer(digest[:16], dtype="<u4").tolist()
    return np.random.default_rng(np.random.SeedSequence([seed, *words]))


@dataclass(frozen=True)
class Channel:
    """A media channel: how its spend is drawn and how spend turns into outcome.

    Parameters
    ----------
    name : str
        Column name of the channel's spend.
    config : ChannelConfig
        Spend range, signal and true response parameters.
    l_max : int
        Adstock window, used when the channel config sets none.
    """

    name: str
    config: ChannelConfig
    l_max: int = 12

    @property
    def window(self) -> int:
        """Adstock window of this channel."""
        return self.config.l_max or self.l_max

    def sample(self, n: int, rng: np.random.Generator) -> FloatArray:
        """Draw ``n`` periods of spend in ``[min, max]``, rounded to cents."""
        raw = _draw_signal(self.config.signal, n, rng)
        cents = np.round(_rescale(raw, self.config.min, self.config.max), 2)
        # rounding may step just outside a range whose ends are not whole cents
        return np.clip(cents, self.config.min, self.config.max)

    def effect(self, spend: npt.ArrayLike, spend_max: float | None = None) -> FloatArray:
        """True effect on the unscaled outcome: ``beta * saturation(adstock(spend / spend_max))``.

        Parameters
        ----------
        spend : array_like
            Spend per period, in currency.
        spend_max : float, optional
            The scaling constant; defaults to ``max(spend)``. Pass the data's maximum to
            evaluate counterfactual spend on the same scale as the observed data.

        Returns
        -------
        numpy.ndarray
            Effect per period, before the outcome's ``scale``.
        """
        x = np.asarray(spend, dtype=np.float64)
        x = x / (spend_max if spend_max is not None else x.max())
        for kind in registry.KINDS:
            x = self.transform(kind).apply(x, self._values(kind))
        return self.config.beta * x

    def transform(self, kind: str) -> Transform:
        """The channel's true transform of ``kind`` (``adstock`` or ``saturation``).

        Returns
        -------
        Transform
            The registered transform (type ``none`` where the config switches it off), adstock
            with this channel's window.
        """
        return registry.build(kind, self.config.transform_type(kind), {"l_max": self.window})

    def _values(self, kind: str) -> dict[str, float]:
        """True values of the ``kind`` transform's parameters, under the model's names."""
        return self.config.parameter_values(kind)

    def params(self) -> dict[str, Any]:
        """True parameters, named as the model names them."""
        out: dict[str, Any] = {
            "adstock": self.transform("adstock").type,
            "l_max": self.window,
            "saturation": self.transform("saturation").type,
            "beta": self.config.beta,
        }
        for kind in registry.KINDS:
            out.update({f"{kind}_{p}": v for p, v in self._values(kind).items()})
        return out


@dataclass(frozen=True)
class GroundTruth:
    """Everything that went into a synthetic outcome, in outcome units (after ``scale``).

    Attributes
    ----------
    contributions : pandas.DataFrame
        Per-date contribution of each channel (index: date, columns: channels).
    baseline : pandas.Series
        Outcome without media and noise: intercept + trend + seasonality + controls.
    components : pandas.DataFrame
        The baseline's parts (``intercept``, ``trend``, ``seasonality``, one column per control)
        and the ``noise``; ``baseline`` is the sum of all but ``noise``.
    params : dict
        True parameters per channel (see :meth:`Channel.params`) plus its ``spend_max``.
    spend_total, roas : dict
        Total spend and true ROAS (total contribution / total spend) per channel.
    seed : int
        The seed the data was drawn with.
    """

    contributions: pd.DataFrame
    baseline: pd.Series
    components: pd.DataFrame
    params: dict[str, dict[str, Any]]
    spend_total: dict[str, float]
    roas: dict[str, float]
    seed: int
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form of the truth.

        ``{"channels": {NAME: {roas, contribution_total, spend_total, params}},
        "baseline_total": float, "seed": int, ...}``.
        """
        channels = {
            name: {
                "roas": self.roas[name],
                "contribution_total": float(self.contributions[name].sum()),
                "spend_total": self.spend_total[name],
                "params": self.params[name],
            }
            for name in self.contributions.columns
        }
        return {
            "channels": channels,
            "baseline_total": float(self.baseline.sum()),
            "seed": self.seed,
            **self.meta,
        }

    def write_json(self, path: str | Path) -> None:
        """Write :meth:`to_dict` to ``path`` as JSON."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")


@dataclass(frozen=True)
class SyntheticData:
    """A generated data set: the modeling table and its ground truth."""

    data: pd.DataFrame
    truth: GroundTruth


@dataclass(frozen=True)
class GroupedData:
    """Several independent data sets in one table: one per value of :data:`GROUP_COLUMN`."""

    data: pd.DataFrame
    truths: dict[str, GroundTruth]

    def truth_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"group_column": "group", "groups": {NAME: truth}}``."""
        groups = {g: t.to_dict() for g, t in self.truths.items()}
        return {"group_column": GROUP_COLUMN, "groups": groups}

    def write_json(self, path: str | Path) -> None:
        """Write :meth:`truth_dict` to ``path`` as JSON."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(self.truth_dict(), indent=2) + "\n")


class Generator:
    """Synthetic MMM data from a :class:`~mediamix.config.generator.GeneratorConfig`.

    Parameters
    ----------
    config : GeneratorConfig
        Dates, frequency, outcome, media channels, trend, seasonality, controls, seed.

    Examples
    --------
    >>> gen = Generator.from_config_file("config/generator/basic_config.yaml")
    >>> result = gen.generate(seed=1)
    >>> result.data.columns.tolist()
    ['date', 'adwords', 'facebook', 'linkedin', 'sales']
    """

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self.channels = [
            Channel(name, cfg, l_max=config.l_max) for name, cfg in config.media.items()
        ]

    @classmethod
    def from_config_file(cls, path: str | Path) -> Generator:
        """Build a generator from a YAML file (see README for the schema)."""
        return cls(load_generator_config(path))

    def dates(self) -> pd.DatetimeIndex:
        """The date grid: every day or every 7 days from ``start_date`` through ``end_date``."""
        freq = "7D" if self.config.frequency == "weekly" else "D"
        return pd.date_range(self.config.start_date, self.config.end_date, freq=freq, name="date")

    def generate(self, seed: int | None = None) -> SyntheticData:
        """Draw a data set.

        Parameters
        ----------
        seed : int, optional
            Overrides the config's ``seed``. With neither, a fresh seed is drawn and recorded
            in the truth. The same seed gives the same data, bit for bit.

        Returns
        -------
        SyntheticData
            ``data`` (``date``, one spend column per channel, controls, the outcome) and
            ``truth``.
        """
        cfg = self.config
        if seed is None:
            seed = cfg.seed
        if seed is None:
            seed = int(np.random.default_rng().integers(2**32))
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
        seed = int(seed)
        dates = self.dates()
        n = len(dates)
        # one independent stream per series, so adding a channel leaves the others unchanged
        spend = {ch.name: ch.sample(n, _stream(seed, "media", ch.name)) for ch in self.channels}
        effects = {ch.name: ch.effect(spend[ch.name]) for ch in self.channels}
        controls = {
            name: _sample_control(c, n, _stream(seed, "control", name))
            for name, c in cfg.controls.items()
        }

        years = np.asarray((dates - dates[0]).days, dtype=np.float64) / _DAYS_PER_YEAR
        year_frac = np.asarray(dates.day_of_year - 1, dtype=np.float64) / _DAYS_PER_YEAR
        components = pd.DataFrame(
            {
                "intercept": np.full(n, cfg.outcome.intercept),
                "trend": cfg.trend.slope * years,
                "seasonality": cfg.seasonality.amplitude
                * np.cos(2 * np.pi * (year_frac - cfg.seasonality.peak)),
                **{name: c.coef * controls[name] for name, c in cfg.controls.items()},
            },
            index=dates,
        )
        noise = _stream(seed, "noise", cfg.outcome.name).normal(0.0, cfg.outcome.sigma, size=n)
        scale = cfg.outcome.scale

        effect_sum = np.sum(list(effects.values()), axis=0)
        outcome = scale * (components.sum(axis=1).to_numpy() + effect_sum + noise)

        data = pd.DataFrame({"date": dates, **spend, **controls, cfg.outcome.name: outcome})
        data = data.reset_index(drop=True)
        contributions = pd.DataFrame({k: scale * v for k, v in effects.items()}, index=dates)
        baseline = (scale * components.sum(axis=1)).rename("baseline")
        components = scale * components
        components["noise"] = scale * noise
        spend_total = {k: float(v.sum()) for k, v in spend.items()}
        truth = GroundTruth(
            contributions=contributions,
            baseline=baseline,
            components=components,
            params={
                ch.name: {**ch.params(), "spend_max": float(spend[ch.name].max())}
                for ch in self.channels
            },
            spend_total=spend_total,
            roas={k: float(contributions[k].sum() / spend_total[k]) for k in spend},
            seed=seed,
            meta={
                "outcome": cfg.outcome.name,
                "frequency": cfg.frequency,
                "scale": scale,
                "start_date": str(dates[0].date()),
                "end_date": str(dates[-1].date()),
                "n_periods": n,
            },
        )
        return SyntheticData(data=data, truth=truth)


def generate_groups(generator: Generator, groups: int, seed: int | None = None) -> GroupedData:
    """Draw ``groups`` independent data sets (brands, markets) stacked in one table.

    Group ``g01`` .. ``gNN`` is drawn with its own seed, derived from ``seed`` (default the
    config's) and the group's number, so its spend, noise and therefore its true ROAS differ.

    Returns
    -------
    GroupedData
        ``data`` with :data:`GROUP_COLUMN` after ``date``, and each group's truth.
    """
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ConfigError(f"groups must be a positive integer, got {groups!r}")
    base = generator.config.seed if seed is None else seed
    if base is None:
        base = int(np.random.default_rng().integers(2**32))
    width = max(2, len(str(groups)))
    frames, truths = [], {}
    for i in range(1, groups + 1):
        name = f"g{i:0{width}d}"
        group_seed = int(np.random.SeedSequence([base, i]).generate_state(1)[0])
        one = generator.generate(seed=group_seed)
        frames.append(one.data.assign(**{GROUP_COLUMN: name}))
        truths[name] = one.truth
    data = pd.concat(frames, ignore_index=True)
    order = ["date", GROUP_COLUMN, *(c for c in data.columns if c not in ("date", GROUP_COLUMN))]
    return GroupedData(data=data[order], truths=truths)


def _sample_control(control: ControlConfig, n: int, rng: np.random.Generator) -> FloatArray:
    return _rescale(_draw_signal(control.signal, n, rng), control.min, control.max)
