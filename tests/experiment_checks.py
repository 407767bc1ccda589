"""Checks shared by the national and the geo experiment planner's tests."""

from __future__ import annotations

from typing import Any


def assert_precise_test_narrows_more(
    precise: list[dict[str, Any]], vague: list[dict[str, Any]]
) -> None:
    """A precise test narrows each channel's ROAS HDI; a vague one barely; spend stays in ±80 %."""
    for p, v in zip(
        sorted(precise, key=lambda r: r["channel"]),
        sorted(vague, key=lambda r: r["channel"]),
        strict=True,
    ):
        assert p["roas_hdi_width_expected"] < 0.8 * p["roas_hdi_width_now"]
        assert v["roas_hdi_width_expected"] > 0.9 * v["roas_hdi_width_now"]
        assert -0.8 - 1e-9 <= p["spend_change"] <= 0.8 + 1e-9
