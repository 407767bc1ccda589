"""Media response under every posterior draw: the time-series contributions and the steady state.

:class:`MediaParameters` holds each channel's transform and its parameter values as plain arrays
of shape ``(draw, channel)``, taken from a fit (:meth:`MediaParameters.from_fit`) or from a
generator's ground truth (:meth:`MediaParameters.from_truth`, one "draw"). Two computations use
it, both through the model's own forward pass (:mod:`mediamix.model.forward`), so they follow
the model's formulas exactly:

- :func:`media_contributions`: contributions per draw, date and channel for a spend matrix
  (numpy, vectorised over draws, in chunks of draws to bound memory);
- :class:`SteadyStateResponse`: with constant spend ``s`` per period, normalized adstock leaves
  ``s`` unchanged (unnormalized multiplies it by the sum of the lag weights), so the steady-state
  expected incremental outcome of channel ``c`` per period is
  ``y_scale * beta_c * saturation_c(m_c * s_c / spend_max_c)`` with ``m_c`` that multiplier. It is
  one PyTensor graph over all draws at once, compiled with its exact gradient for the optimizer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import numpy.typing as npt
import pytensor
import pytensor.tensor as pt

from mediamix.errors import MediamixError
from mediamix.model import forward, registry
from mediamix.model.builder import channel_parameters
from mediamix.model.registry import Transform

if TYPE_CHECKING:
    from mediamix.data.generator import GroundTruth
    from mediamix.inference.fit import FitResult

__all__ = [
    "ChannelTransform",
    "MediaParameters",
    "SteadyStateResponse",
    "media_contributions",
]

FloatArray = npt.NDArray[np.float64]
Objective = Literal["mean", "risk-aware"]
#: ``<kind>_<parameter>`` of every registered transform parameter, and ``beta``.
PARAMETER_NAMES = (
    *(f"{kind}_{p}" for kind in registry.KINDS for p in registry.parameters(kind)),
    "beta",
)
# elements of the largest temporary array (time x lag x draws*channels) built per chunk of draws
_CHUNK_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class ChannelTransform:
    """The transforms of one channel: adstock type, window and normalization; saturation type."""

    adstock: str  # a registered adstock type: "geometric", "delayed", "none"...
    l_max: int
    normalize: bool
    saturation: str  # a registered saturation type: "logistic", "hill", "none"...

    def transform(self, kind: str) -> Transform:
        """The registered transform of ``kind`` (``adstock`` or ``saturation``), with options."""
        options = {"l_max": self.l_max, "normalize": self.normalize}
        return registry.build(kind, getattr(self, kind), options)


@dataclass(frozen=True)
class MediaParameters:
    """Channel transforms and parameter values per posterior draw, as plain arrays.

    Attributes
    ----------
    channels : tuple of str
        Channel names, the order of every ``channel`` axis.
    transforms : tuple of ChannelTransform
        One per channel.
    values : dict of str to numpy.ndarray
        ``adstock_alpha``, ``adstock_theta``, ``saturation_lam``, ``saturation_k``,
        ``saturation_s`` and ``beta``, each of shape ``(draw, channel)``; NaN where a channel's
        transform has no such parameter.
    spend_max : numpy.ndarray
        The model's spend scale per channel, ``(channel,)``, currency.
    y_scale : float
        The model's outcome scale.
    """

    channels: tuple[str, ...]
    transforms: tuple[ChannelTransform, ...]
    values: dict[str, FloatArray]
    spend_max: FloatArray
    y_scale: float

    @property
    def n_draws(self) -> int:
        """Number of draws."""
        return int(self.values["beta"].shape[0])

    @classmethod
    def from_fit(
        cls,
        result: FitResult,
        draws: int | None = None,
        *,
        organic: bool = False,
        media_units: bool = False,
    ) -> MediaParameters:
        """Take the channel parameters of a fit's posterior, chains stacked (chain-major).

        Parameters
        ----------
        result : FitResult
            The fit.
        draws : int, optional
            Keep this many draws, evenly spaced over the stacked chains; all by default.
        organic : bool, default False
            The organic channels instead of the paid ones (``spend_max`` is then their
            ``organic_max``); they have no spend, so they never enter the optimizer.
        media_units : bool, default False
            Take a channel modeled on an exposure metric in exposure units, as the model
            does. By default its input is spend (currency), mapped to exposure at the
            channel's average cost per exposure over the data (``spend_max`` is then the
            exposure maximum times that cost), as response curves and the optimizer need.

        Returns
        -------
        MediaParameters
        """
        cfg, post = result.config, result.posterior
        entries = cfg.organic_channels if organic else cfg.channels
        names = list(entries)
        scale = dict(result.scalers.organic_max if organic else result.scalers.spend_max)
        if not (organic or media_units):
            for ch, cost in result.scalers.cost_per_exposure.items():
                scale[ch] *= cost
        index = draw_index(post.sizes["chain"] * post.sizes["draw"], draws)
        values = {p: np.full((len(index), len(names)), np.nan) for p in PARAMETER_NAMES}
        for j, (ch, where) in enumerate(channel_parameters(cfg, organic).items()):
            for param, (var, dim) in where.items():
                da = post[var].sel({dim: ch}) if dim else post[var]
                values[param][:, j] = da.transpose("chain", "draw").to_numpy().reshape(-1)[index]
        transforms = tuple(
            ChannelTransform(
                adstock=cc.adstock.type,
                l_max=cc.adstock.l_max,
                normalize=cc.adstock.normalize,
                saturation=cc.saturation.type,
            )
            for cc in (entries[ch] for ch in names)
        )
        return cls(
            channels=tuple(names),
            transforms=transforms,
            values=values,
            spend_max=np.array([scale[c] for c in names], dtype=np.float64),
            y_scale=float(result.scalers.y_scale),
        )

    @classmethod
    def from_truth(cls, truth: GroundTruth) -> MediaParameters:
        """The generator's true parameters as a one-draw "posterior".

        Parameters
        ----------
        truth : GroundTruth
            From :meth:`mediamix.data.generator.Generator.generate`.

        Returns
        -------
        MediaParameters
            One draw; contributions computed from it equal the truth's contributions.
        """
        names = list(truth.params)
        values = {p: np.full((1, len(names)), np.nan) for p in PARAMETER_NAMES}
        for j, ch in enumerate(names):
            for p in PARAMETER_NAMES:
                if p in truth.params[ch]:
                    values[p][0, j] = float(truth.params[ch][p])
        transforms_ = tuple(
            ChannelTransform(
                adstock=str(truth.params[ch]["adstock"]),
                l_max=int(truth.params[ch]["l_max"]),
                normalize=True,
                saturation=str(truth.params[ch]["saturation"]),
            )
            for ch in names
        )
        return cls(
            channels=tuple(names),
            transforms=transforms_,
            values=values,
            spend_max=np.array([truth.params[ch]["spend_max"] for ch in names], dtype=np.float64),
            y_scale=float(truth.meta["scale"]),
        )

    @property
    def window(self) -> int:
        """The longest adstock window of any channel, periods."""
        return max(t.transform("adstock").window for t in self.transforms)

    def stage(self, kind: str, draws: slice = slice(None)) -> list[forward.Group]:
        """Channels grouped by their transform of ``kind``, with the values of ``draws``.

        Parameters
        ----------
        kind : str
            ``adstock`` or ``saturation``.
        draws : slice, default all
            The draws whose parameter values the groups carry, ``(draw, group)`` each.

        Returns
        -------
        list of forward.Group
            One per distinct transform, channels in order; together they cover every channel.
        """
        found: dict[Transform, list[int]] = {}
        for j, t in enumerate(self.transforms):
            found.setdefault(t.transform(kind), []).append(j)
        return [
            forward.Group(
                t,
                idx,
                {p: self.values[f"{kind}_{p}"][draws][:, idx] for p in t.parameter_names()},
            )
            for t, idx in found.items()
        ]

    def stages(self, draws: slice = slice(None)) -> list[list[forward.Group]]:
        """:meth:`stage` of every transform kind, in the order the model applies them."""
        return [self.stage(kind, draws) for kind in registry.KINDS]


def draw_index(n_total: int, draws: int | None) -> npt.NDArray[np.intp]:
    """Indices of ``draws`` evenly spaced draws out of ``n_total`` (all when ``draws`` is None)."""
    if draws is None or draws >= n_total:
        return np.arange(n_total, dtype=np.intp)
    if isinstance(draws, bool) or not isinstance(draws, int | np.integer) or draws < 1:
        raise MediamixError(f"draws must be a positive integer or None, got {draws!r}")
    return np.unique(np.linspace(0, n_total - 1, int(draws)).round().astype(np.intp))


def _chunks(n_draws: int, per_draw: int) -> list[slice]:
    """Consecutive slices of draws whose temporaries hold about ``_CHUNK_ELEMENTS`` each."""
    size = max(1, _CHUNK_ELEMENTS // max(1, per_draw))
    return [slice(start, min(start + size, n_draws)) for start in range(0, n_draws, size)]


def media_contributions(mp: MediaParameters, spend: npt.ArrayLike) -> FloatArray:
    """Contribution of each channel per date under every draw, in outcome units.

    Parameters
    ----------
    mp : MediaParameters
        Transforms and parameter draws.
    spend : array_like
        Spend per period, ``(time, channel)`` in the order of ``mp.channels``, currency. Spend
        before the first row counts as 0 (as in the model).

    Returns
    -------
    numpy.ndarray
        ``(draw, time, channel)``: ``y_scale * beta * saturation(adstock(spend / spend_max))``.

    Raises
    ------
    MediamixError
        If ``spend`` has the wrong shape or holds negative or non-finite values.
    """
    x = np.asarray(spend, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(mp.channels):
        raise MediamixError(
            f"spend must be (time, channel) with {len(mp.channels)} channels "
            f"{list(mp.channels)}, got shape {x.shape}"
        )
    if not np.all(np.isfinite(x)) or np.any(x < 0):
        raise MediamixError("spend must be finite and >= 0 in every period and channel")
    out = np.empty((mp.n_draws, *x.shape))
    for draws in _chunks(mp.n_draws, x.shape[0] * mp.window * x.shape[1]):
        beta = mp.values["beta"][draws]
        out[draws] = forward.media(x, mp.spend_max, mp.stages(draws), beta) * mp.y_scale
    return out


def steady_state_multiplier(mp: MediaParameters) -> FloatArray:
    """Adstocked / raw spend at constant spend, ``(draw, channel)``: 1 when normalized."""
    mult = np.empty((mp.n_draws, len(mp.channels)))
    for draws in _chunks(mp.n_draws, mp.window**2 * len(mp.channels)):
        n = len(range(*draws.indices(mp.n_draws)))
        mult[draws] = forward.carryover(mp.stage("adstock", draws), n)
    return mult


class SteadyStateResponse:
    """Steady-state expected incremental outcome per period, as one compiled PyTensor graph.

    The parameters are constants of shape ``(draw, channel)`` and the spend per period is a
    symbolic vector, so one call evaluates every draw at once; the gradient is exact
    (``pytensor.grad``), compiled once per objective.

    Parameters
    ----------
    params : MediaParameters
        Transforms and parameter draws (from a fit or from a ground truth).

    Examples
    --------
    >>> response = SteadyStateResponse(MediaParameters.from_fit(result))  # doctest: +SKIP
    >>> response.draws([1000.0, 2000.0, 500.0]).shape  # doctest: +SKIP
    (4000, 3)
    """

    def __init__(self, params: MediaParameters) -> None:
        self.params = params
        self._spend = pt.dvector("spend")
        self._response = self._graph(self._spend)
        self._draws_fn: Callable[..., Any] | None = None
        self._objectives: dict[str, Callable[..., Any]] = {}

    @property
    def channels(self) -> tuple[str, ...]:
        """Channel names, the order of spend vectors."""
        return self.params.channels

    def _graph(self, spend: Any) -> Any:
        mp = self.params
        # at steady state the adstock stage is a multiplier per draw and channel (numpy); the
        # later stages see the symbolic spend
        stages = [mp.stage(kind) for kind in registry.KINDS if kind != "adstock"]
        carried = steady_state_multiplier(mp)
        beta = mp.values["beta"]
        return forward.steady_state(spend, mp.spend_max, carried, stages, beta) * mp.y_scale

    def _check(self, spend: npt.ArrayLike) -> FloatArray:
        s = np.asarray(spend, dtype=np.float64)
        if s.shape != (len(self.channels),):
            raise MediamixError(
                f"spend per period must have one value per channel {list(self.channels)}, "
                f"got shape {s.shape}"
            )
        return s

    def draws(self, spend: npt.ArrayLike) -> FloatArray:
        """Incremental outcome per period of each channel under each draw.

        Parameters
        ----------
        spend : array_like
            Spend per period, one value per channel (currency).

        Returns
        -------
        numpy.ndarray
            ``(draw, channel)``, outcome units.
        """
        if self._draws_fn is None:
            self._draws_fn = pytensor.function([self._spend], self._response)
        return np.asarray(self._draws_fn(self._check(spend)))

    def total(self, spend: npt.ArrayLike) -> FloatArray:
        """Incremental outcome per period of all channels together, one value per draw."""
        return self.draws(spend).sum(axis=1)

    def objective(
        self, kind: Objective = "mean", risk_aversion: float = 1.0
    ) -> Callable[[FloatArray], tuple[float, FloatArray]]:
        """The objective to maximise and its exact gradient with respect to spend.

        Parameters
        ----------
        kind : {"mean", "risk-aware"}
            ``mean``: the posterior mean of the total incremental outcome per period;
            ``risk-aware``: that mean minus ``risk_aversion`` posterior standard deviations.
        risk_aversion : float, default 1.0
            ``k`` in ``mean - k * sd`` (ignored for ``mean``).

        Returns
        -------
        callable
            ``f(spend) -> (value, gradient)``, gradient of shape ``(channel,)``.
        """
        if kind not in ("mean", "risk-aware"):
            raise MediamixError(f"objective must be 'mean' or 'risk-aware', got {kind!r}")
        if kind not in self._objectives:
            k = pt.dscalar("risk_aversion")
            total = self._response.sum(axis=1)
            value = total.mean()
            if kind == "risk-aware":
                # the tiny floor keeps the gradient finite when every draw agrees
                value = value - k * pt.sqrt(pt.var(total) + 1e-12)
            grad = cast(Any, pytensor.grad(value, self._spend))
            self._objectives[kind] = pytensor.function(
                [self._spend, k], [value, grad], on_unused_input="ignore"
            )
        fn = self._objectives[kind]

        def evaluate(spend: FloatArray) -> tuple[float, FloatArray]:
            value, grad = fn(self._check(spend), float(risk_aversion))
            return float(value), np.asarray(grad)

        return evaluate
