"""Media transforms as small objects, and the registry that maps a config's ``type`` to them.

Each transform is one class: its ``kind`` (``adstock`` or ``saturation``), its ``type`` (the
name a config uses), its parameters (model names, the prior support each needs and a default
prior) and ``apply(x, values)``, which calls the formula in :mod:`mediamix.model.transforms`
and so works with numpy arrays and PyTensor variables alike. Adstock transforms also carry the
options ``l_max`` (window) and ``normalize``; two transforms are equal when their class and
options are, so channels can be grouped by transform.

Adding a transform is one new class decorated with :func:`register` (overriding
:meth:`Transform.check` if some parameter values cannot go together); the model config, the
generator config, the PyMC model, the response code and the data generator all find it here. A
parameter name new to its kind also needs a prior field in :mod:`mediamix.config.model` and a
channel key in :mod:`mediamix.config.generator`; both check that at import.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar, Literal

from mediamix.errors import MediamixError

__all__ = [
    "ALPHA",
    "KINDS",
    "LAM",
    "NONE",
    "THETA",
    "Adstock",
    "DelayedAdstock",
    "GeometricAdstock",
    "HillSaturation",
    "K",
    "LogisticSaturation",
    "NoAdstock",
    "NoSaturation",
    "Parameter",
    "S",
    "Saturation",
    "Transform",
    "TransformTypeError",
    "build",
    "parameters",
    "register",
    "transform_class",
    "types",
]

#: Transform kinds, in the order the model applies them.
KINDS: tuple[str, ...] = ("adstock", "saturation")
#: The type, in each kind, of the transform that leaves ``x`` unchanged (no parameters).
NONE = "none"


class TransformTypeError(MediamixError):
    """A transform type or kind that the registry does not know, or a clashing registration."""


@dataclass(frozen=True)
class Parameter:
    """One parameter of a transform, under the model's name for it.

    Attributes
    ----------
    name : str
        The model's name (``alpha``); the random variable is ``<kind>_<name>``.
    support : {"unit", "positive"}
        Where a prior for it must put all its mass.
    prior : mapping
        The default prior in config form, ``{"dist": "Beta", "alpha": 1.0, "beta": 3.0}``.
    """

    name: str
    support: Literal["unit", "positive"]
    prior: Mapping[str, Any]


# shared by the transforms that use them: one name, one support and one default prior per kind
ALPHA = Parameter("alpha", "unit", MappingProxyType({"dist": "Beta", "alpha": 1.0, "beta": 3.0}))
THETA = Parameter(
    "theta", "positive", MappingProxyType({"dist": "Uniform", "lower": 0.0, "upper": 3.0})
)
LAM = Parameter("lam", "positive", MappingProxyType({"dist": "Gamma", "alpha": 3.0, "beta": 1.0}))
K = Parameter("k", "positive", MappingProxyType({"dist": "Gamma", "alpha": 2.0, "beta": 4.0}))
S = Parameter("s", "positive", MappingProxyType({"dist": "Gamma", "alpha": 3.0, "beta": 1.5}))


class Transform(ABC):
    """A media transform: one formula, its parameters, and options fixed per channel."""

    kind: ClassVar[str]
    type: ClassVar[str]
    parameters: ClassVar[tuple[Parameter, ...]] = ()

    @classmethod
    def parameter_names(cls) -> tuple[str, ...]:
        """The parameters' model names, in the order the transform declares them."""
        return tuple(p.name for p in cls.parameters)

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        """Options set per channel (``l_max``, ``normalize`` for adstock), not estimated."""
        if not dataclasses.is_dataclass(cls):
            return ()
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def check(cls, values: Mapping[str, float]) -> None:
        """Reject fixed parameter values that the formula cannot use (one scalar each).

        Each value already lies in its parameter's support; this catches combinations that
        :meth:`apply` would reject, without importing PyTensor. The default accepts all.

        Raises
        ------
        ValueError
            With a message naming the parameters by their model names.
        """
        return None  # every combination is fine unless a transform says otherwise

    @property
    def label(self) -> str:
        """A name that tells this transform from others of its type (e.g. ``geometric_l8``)."""
        return self.type

    @property
    def window(self) -> int:
        """Periods of input that one period of output depends on (1: no memory)."""
        return 1

    @abstractmethod
    def apply(self, x: Any, values: Mapping[str, Any]) -> Any:
        """Transform ``x`` with parameter ``values`` (keyed by :meth:`parameter_names`).

        Parameters
        ----------
        x : array_like or TensorVariable
            ``(time,)`` or ``(time, column)``.
        values : mapping
            Each parameter: a scalar, or one value per column of ``x``.

        Returns
        -------
        numpy.ndarray or TensorVariable
            The shape of ``x``; numpy in, numpy out.
        """


@dataclass(frozen=True)
class Adstock(Transform):
    """Carry-over with a window of ``l_max`` periods, optionally normalized to keep totals."""

    kind: ClassVar[str] = "adstock"
    l_max: int = 12
    normalize: bool = True

    @property
    def label(self) -> str:
        """Type and window, marked ``_raw`` when the weights are not normalized."""
        return f"{self.type}_l{self.l_max}" + ("" if self.normalize else "_raw")

    @property
    def window(self) -> int:
        """The adstock window, ``l_max`` periods."""
        return self.l_max


@dataclass(frozen=True)
class Saturation(Transform):
    """Diminishing returns."""

    kind: ClassVar[str] = "saturation"


_REGISTRY: dict[str, dict[str, type[Transform]]] = {kind: {} for kind in KINDS}


def register[T: type[Transform]](cls: T) -> T:
    """Class decorator: make ``cls`` available under its ``kind`` and ``type``.

    Raises
    ------
    TransformTypeError
        If the kind is unknown, the type is taken, or a parameter name is already declared by
        another transform of the kind with a different support or default prior (the config
        has one prior field per parameter name and kind).
    """
    if cls.kind not in _REGISTRY:
        raise TransformTypeError(f"{cls.__name__}: kind must be one of {KINDS}, got {cls.kind!r}")
    known = _REGISTRY[cls.kind]
    if cls.type in known:
        raise TransformTypeError(
            f"{cls.__name__}: {cls.kind} type {cls.type!r} is already {known[cls.type].__name__}"
        )
    declared = parameters(cls.kind)
    for p in cls.parameters:
        if p.name in declared and declared[p.name] != p:
            raise TransformTypeError(
                f"{cls.__name__}: {cls.kind} parameter {p.name!r} differs from the one other "
                f"{cls.kind} transforms declare ({declared[p.name]}); reuse it or rename it"
            )
    known[cls.type] = cls
    return cls


def _kind(kind: str) -> dict[str, type[Transform]]:
    if kind not in _REGISTRY:
        raise TransformTypeError(f"transform kind must be one of {KINDS}, got {kind!r}")
    return _REGISTRY[kind]


def types(kind: str) -> tuple[str, ...]:
    """The registered types of ``kind``, in registration order."""
    return tuple(_kind(kind))


def transform_class(kind: str, type_: str) -> type[Transform]:
    """The class registered for ``type_`` of ``kind``.

    Raises
    ------
    TransformTypeError
        If no such transform is registered; the message lists the types there are.
    """
    known = _kind(kind)
    if type_ not in known:
        raise TransformTypeError(
            f"unknown {kind} type {type_!r}; registered {kind} types are {list(known)}"
        )
    return known[type_]


def build(kind: str, type_: str, options: Mapping[str, Any] | None = None) -> Transform:
    """An instance of the registered transform, with the options it takes from ``options``.

    Parameters
    ----------
    kind, type_ : str
        ``adstock`` / ``saturation`` and the type name (``geometric``, ``hill``...).
    options : mapping, optional
        May hold more than the transform takes (a whole config section): only its
        :meth:`Transform.option_names` are read, the rest keep their defaults.

    Returns
    -------
    Transform
    """
    cls = transform_class(kind, type_)
    given = options or {}
    make: Callable[..., Transform] = cls
    return make(**{o: given[o] for o in cls.option_names() if o in given})


def parameters(kind: str) -> dict[str, Parameter]:
    """Every parameter that a registered transform of ``kind`` declares, by name."""
    out: dict[str, Parameter] = {}
    for cls in _kind(kind).values():
        for p in cls.parameters:
            out.setdefault(p.name, p)
    return out


def _transforms() -> Any:
    # imported on first use: the config validates types against this module and should not
    # pay for importing PyTensor
    from mediamix.model import transforms

    return transforms


@register
@dataclass(frozen=True)
class GeometricAdstock(Adstock):
    """Weights ``alpha**l`` for lags ``l = 0..l_max-1``."""

    type: ClassVar[str] = "geometric"
    parameters: ClassVar[tuple[Parameter, ...]] = (ALPHA,)

    def apply(self, x: Any, values: Mapping[str, Any]) -> Any:
        """Geometric adstock (:func:`mediamix.model.transforms.geometric_adstock`)."""
        return _transforms().geometric_adstock(x, values["alpha"], self.l_max, self.normalize)


@register
@dataclass(frozen=True)
class DelayedAdstock(Adstock):
    """Weights ``alpha**((l - theta)**2)``, peaking ``theta`` periods after spend."""

    type: ClassVar[str] = "delayed"
    parameters: ClassVar[tuple[Parameter, ...]] = (ALPHA, THETA)

    @classmethod
    def check(cls, values: Mapping[str, float]) -> None:
        """``alpha`` 0 puts all weight on lag ``theta``, which exists only for a whole number."""
        alpha, theta = values["alpha"], values["theta"]
        if alpha == 0 and not float(theta).is_integer():
            raise ValueError(
                f"alpha 0 needs a whole-number theta (got theta {theta:g}); use alpha in (0, 1) "
                "for a fractional peak lag"
            )

    def apply(self, x: Any, values: Mapping[str, Any]) -> Any:
        """Delayed adstock (:func:`mediamix.model.transforms.delayed_adstock`)."""
        return _transforms().delayed_adstock(
            x, values["alpha"], values["theta"], self.l_max, self.normalize
        )


@register
@dataclass(frozen=True)
class NoAdstock(Adstock):
    """No carry-over: spend acts in its own period only."""

    type: ClassVar[str] = NONE

    def apply(self, x: Any, values: Mapping[str, Any]) -> Any:
        """``x`` unchanged."""
        return x


@register
@dataclass(frozen=True)
class LogisticSaturation(Saturation):
    """``(1 - exp(-lam x)) / (1 + exp(-lam x))``."""

    type: ClassVar[str] = "logistic"
    parameters: ClassVar[tuple[Parameter, ...]] = (LAM,)

    def apply(self, x: Any, values: Mapping[str, Any]) -> Any:
        """Logistic saturation (:func:`mediamix.model.transforms.logistic_saturation`)."""
        return _transforms().logistic_saturation(x, values["lam"])


@register
@dataclass(frozen=True)
class HillSaturation(Saturation):
    """``x**s / (x**s + k**s)``."""

    type: ClassVar[str] = "hill"
    parameters: ClassVar[tuple[Parameter, ...]] = (K, S)

    def apply(self, x: Any, values: Mapping[str, Any]) -> Any:
        """Hill saturation (:func:`mediamix.model.transforms.hill_saturation`)."""
        return _transforms().hill_saturation(x, values["k"], values["s"])


@register
@dataclass(frozen=True)
class NoSaturation(Saturation):
    """A linear response."""

    type: ClassVar[str] = NONE

    def apply(self, x: Any, values: Mapping[str, Any]) -> Any:
        """``x`` unchanged."""
        return x
