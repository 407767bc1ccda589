"""The base of every config schema: strict pydantic models, YAML loading, one error style.

Unknown keys are rejected and every error names the key path (``media.adwords.alpha``), what
was given and what is allowed, so a typo in a YAML file never silently falls back to a default.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
)

from mediamix.errors import MediamixError

__all__ = ["ConfigError", "StrictModel", "load_yaml", "parse_config"]


class ConfigError(MediamixError):
    """A configuration file or mapping that does not follow its schema."""


class StrictModel(BaseModel):
    """Base for config models: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _unwrap(tp: Any) -> Any:
    """The config model or ``dict[...]`` inside an ``Annotated[...]`` or ``X | None`` type."""
    if get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    if get_origin(tp) in (Union, types.UnionType):
        for arg in get_args(tp):
            inner = _unwrap(arg)
            if get_origin(inner) is dict or (
                isinstance(inner, type) and issubclass(inner, BaseModel)
            ):
                return inner
    return tp


def _allowed_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """Field names of the config section that holds the key at ``loc``."""
    tp: Any = model
    for part in loc[:-1]:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            tp = None if field is None else field.annotation
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]  # a user-chosen name (a channel, a control): its value type
        else:
            return []
    tp = _unwrap(tp)
    return list(tp.model_fields) if isinstance(tp, type) and issubclass(tp, BaseModel) else []


def _format_validation_error(err: ValidationError, source: str, model: type[BaseModel]) -> str:
    lines = [f"invalid configuration in {source}:"]
    for item in err.errors():
        loc = ".".join(str(part) for part in item["loc"])
        msg = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, item["loc"])
            msg = "unknown key"
            close = difflib.get_close_matches(str(item["loc"][-1]), allowed, n=1)
            if close:
                msg += f" (did you mean {close[0]!r}?)"
            if allowed:
                msg += f"; allowed keys here: {', '.join(allowed)}"
        shown = item.get("input")
        # a whole section as "input" (a cross-field check) would only repeat the file
        quiet = item["type"] in ("missing", "extra_forbidden") or isinstance(shown, Mapping)
        given = "" if quiet else f" (got {shown!r})"
        lines.append(f"  {loc}: {msg}{given}" if loc else f"  {msg}{given}")
    return "\n".join(lines)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML file whose top level is a mapping.

    Parameters
    ----------
    path : str or Path
        The file to read.

    Returns
    -------
    dict
        The parsed mapping.

    Raises
    ------
    ConfigError
        If the file is missing, is not valid YAML, or its top level is not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping of keys, got {type(data).__name__}"
        )
    return data


def parse_config[M: BaseModel](model: type[M], data: dict[str, Any], source: str = "config") -> M:
    """Validate a mapping against a config model, with readable errors.

    Parameters
    ----------
    model : type
        The pydantic model class.
    data : dict
        The raw mapping, e.g. from :func:`load_yaml`.
    source : str
        Where the mapping came from, for error messages.

    Returns
    -------
    BaseModel
        The validated config.

    Raises
    ------
    ConfigError
        Naming each offending key, what was given and what is allowed.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, source, model)) from None
