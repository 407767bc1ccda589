"""Whether a fit's model is registered: only a converged fit, unless the caller insists.

A registry version is what deployments and serving endpoints pick up, so a fit that missed the
convergence thresholds is logged with its run but not registered by default; the reason is
recorded in the run (tag ``mediamix.registration``) and in ``summary.json`` (``registration``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["RegistrationDecision", "decide_registration"]


@dataclass(frozen=True)
class RegistrationDecision:
    """The name to register under (None: do not) and the sentence that says what happened."""

    name: str | None
    note: str
    skipped: bool


def decide_registration(
    name: str | None, diagnostics: Mapping[str, Any], *, register_anyway: bool = False
) -> RegistrationDecision:
    """Decide whether to register a fit's model under ``name``.

    Parameters
    ----------
    name : str or None
        The requested registered-model name; None when no registration was asked for.
    diagnostics : mapping
        ``summary["diagnostics"]``: ``converged`` and ``problems``.
    register_anyway : bool, default False
        Register even a fit that did not converge.

    Returns
    -------
    RegistrationDecision
        ``name`` None when the model is not to be registered.
    """
    if not name:
        return RegistrationDecision(None, "not requested", skipped=False)
    if diagnostics["converged"] or register_anyway:
        return RegistrationDecision(name, f"registered as {name!r}", skipped=False)
    note = (
        f"not registered as {name!r}: the fit did not converge ("
        + "; ".join(diagnostics["problems"])
        + "); rerun with more tune/draws or a higher target_accept, or pass "
        "--register-anyway (register_anyway=True)"
    )
    return RegistrationDecision(None, note, skipped=True)
