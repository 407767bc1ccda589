"""The one-page HTML report: sections, numbers from the analysis, escaping, no network."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mediamix.analysis import metrics
from mediamix.cli import main
from mediamix.inference.diagnostics import Diagnostics
from mediamix.inference.fit import FitResult
from mediamix.report.format import Units, fmt_amount, fmt_number, fmt_percent, period_of
from mediamix.report.html import SECTIONS, render_report
from mediamix.report.views import compute_views, verdict

HOSTILE = '<script>alert("x")</script>'


@pytest.fixture(scope="module")
def html(fit_result: FitResult) -> str:
    source = {"kind": "table", "table": f"main.mediamix.{HOSTILE}", "version": "3"}
    return render_report(fit_result, data_source=source, currency="$")


def test_report_has_every_section_in_order(html: str) -> None:
    ids = re.findall(r'<section id="([a-z]+)"', html)
    assert ids == list(SECTIONS)
    for heading in SECTIONS.values():
        assert f"<h2>{heading}</h2>" in html


def test_report_is_self_contained(html: str) -> None:
    # nothing is fetched when the file is opened: no external scripts, styles or images
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<script" not in html.replace("&lt;script", "")
    images = re.findall(r'<img[^>]+src="([^"]+)"', html)
    assert len(images) == 5 and all(s.startswith("data:image/svg+xml;base64,") for s in images)


def test_values_from_data_are_escaped(html: str) -> None:
    assert HOSTILE not in html
    assert "main.mediamix.&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "source.version" in html


def test_headline_numbers_are_the_analysis_numbers(fit_result: FitResult, html: str) -> None:
    roas = metrics.roas(fit_result)
    for ch, row in roas.iterrows():
        cells = re.search(rf"<td>{ch}</td>\s*<td>(.*?)</td>\s*<td>(.*?) <span", html, re.S)
        assert cells is not None, ch
        spend = metrics.current_spend(fit_result)[ch]
        assert cells.group(1) == f"${spend:,.0f}"
        assert cells.group(2) == f"{row['mean']:,.2f}"


def test_recommendation_shows_lift_and_probability(fit_result: FitResult, html: str) -> None:
    views = compute_views(fit_result)
    rec = views.recommendation
    assert f"{rec.p_lift_positive * 100:.0f} %" in html
    assert fmt_number(rec.expected_outcome.mean) in html
    # the recommendation keeps today's total, each channel within ±30 %
    assert rec.budget == pytest.approx(metrics.current_spend(fit_result).sum())
    assert (rec.allocation <= rec.current * 1.3 + 1e-6).all()


def _diag(**changes: object) -> Diagnostics:
    base: dict[str, object] = dict(
        r_hat_max=1.002,
        ess_bulk_min=900.0,
        ess_tail_min=800.0,
        divergences=0,
        bfmi_min=0.9,
        r2=0.93,
        mape=4.2,
        elpd_loo=-100.0,
        p_loo=10.0,
        pareto_k_high=0,
        converged=True,
        problems=[],
    )
    return Diagnostics(**{**base, **changes})  # type: ignore[arg-type]


def test_verdict_speaks_plainly() -> None:
    level, text = verdict(_diag())
    assert level == "good" and text.startswith("The fit can be trusted")
    assert "93.0%" in text and "4.2 %" in text
    level, text = verdict(_diag(r2=0.4))
    assert level == "caution" and "unexplained" in text
    level, text = verdict(_diag(converged=False, problems=["max R-hat 1.100 > 1.01"]))
    assert level == "bad" and text.startswith("Do not act on these numbers yet")
    assert "max R-hat 1.100 > 1.01" in text


def test_formatting_for_people() -> None:
    assert fmt_number(1234567.8) == "1,234,568"
    assert fmt_amount(-1200, "$") == "-$1,200"
    assert fmt_percent(0.1234) == "12.3 %"
    assert fmt_number(float("nan")) == "n/a"
    units = Units("sales", "week", "€")
    assert (units.per_period, units.roas_unit, units.money(5e3)) == (
        "per week",
        "sales per €1",
        "€5,000",
    )
    weekly = period_of(__import__("pandas").Series(["2024-01-01", "2024-01-08", "2024-01-15"]))
    assert weekly == "week"


def test_cli_report_writes_one_file(fit_dir: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "r" / "report.html"
    assert main(["report", "--fit", str(fit_dir), "--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("<!DOCTYPE html>") and 'id="diagnostics"' in text
    assert "wrote" in capsys.readouterr().out


def test_cli_report_names_a_missing_fit(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["report", "--fit", str(tmp_path), "--out", str(tmp_path / "r.html")]) == 2
    assert f"no fit file at {tmp_path / 'fit.nc'}" in capsys.readouterr().err


def test_log_report_puts_the_report_in_the_run(
    fit_result: FitResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    from mediamix.report import html as report_html

    store = f"sqlite:///{tmp_path}/mlflow.db"
    client = mlflow.MlflowClient(store)
    exp = client.create_experiment("report", artifact_location=(tmp_path / "a").as_uri())
    mlflow.set_tracking_uri(store)
    try:
        with mlflow.start_run(experiment_id=exp) as run:
            assert report_html.log_report(fit_result, {"kind": "table", "table": "t"})
        text = Path(client.download_artifacts(run.info.run_id, "report.html", tmp_path)).read_text()
        assert 'id="recommendation"' in text

        def broken(*args: object, **kwargs: object) -> str:
            raise RuntimeError("no template")

        monkeypatch.setattr(report_html, "render_report", broken)
        with mlflow.start_run(experiment_id=exp) as run:
            assert not report_html.log_report(fit_result)  # the run goes on
        done = client.get_run(run.info.run_id)
        assert done.info.status == "FINISHED"
        assert done.data.tags["mediamix.report_error"] == "RuntimeError: no template"
        assert "report.html" not in {f.path for f in client.list_artifacts(run.info.run_id)}
    finally:
        mlflow.set_tracking_uri(None)
