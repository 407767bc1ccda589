"""The ``ingest``, ``tables`` and ``generate --ingest`` commands on a local lakehouse."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mediamix.cli import main
from mediamix.lakehouse import tables as lake


def feeds(tmp_path: Path, extra_spend: str = "") -> tuple[Path, Path]:
    spend = tmp_path / "spend.csv"
    outcome = tmp_path / "outcome.csv"
    spend.write_text(
        "date,channel,spend\n2024-01-01,tv,5\n2024-01-08,tv,6\n2024-01-08,radio,2\n" + extra_spend
    )
    outcome.write_text("date,sales\n2024-01-01,50\n2024-01-08,60\n")
    return spend, outcome


def test_ingest_prints_tables_versions_and_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spend, outcome = feeds(tmp_path)
    root = tmp_path / "lh"
    rc = main(
        ["ingest", "--spend", str(spend), "--outcome", str(outcome), "--lakehouse", str(root)]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert "main.mediamix.mmm_gold" in out and "quarantined rows: 0" in out
    gold_line = next(line for line in out.splitlines() if "mmm_gold" in line)
    assert gold_line.split()[-2:] == ["0", "2"]  # version 0, 2 rows
    gold = lake.read_table("mmm_gold", lakehouse=root)
    assert list(gold.columns) == ["date", "radio", "tv", "sales"]
    # a second run on the same files writes nothing new
    assert (
        main(["ingest", "--spend", str(spend), "--outcome", str(outcome), "--lakehouse", str(root)])
        == 0
    )
    assert "unchanged" in capsys.readouterr().out


def test_ingest_with_rejects_exits_2_and_names_the_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spend, outcome = feeds(tmp_path, extra_spend="2024-01-08,print,3\n")
    root = tmp_path / "lh"
    rc = main(
        [
            "ingest",
            "--spend",
            str(spend),
            "--outcome",
            str(outcome),
            "--channels",
            "tv, radio",
            "--lakehouse",
            str(root),
        ]
    )
    captured = capsys.readouterr()
    assert rc == 2
    assert "mmm_quarantine" in captured.out  # what was written before the failure
    assert captured.err.startswith("error: silver step failed")
    assert "channel_unknown [channel]" in captured.err and "spend.csv row 4" in captured.err
    assert not (root / "main" / "mediamix" / "mmm_gold").exists()
    # with --allow-rejects the run goes on and gold is built from the rows that passed
    rc = main(
        [
            "ingest",
            "--spend",
            str(spend),
            "--outcome",
            str(outcome),
            "--channels",
            "tv,radio",
            "--allow-rejects",
            "--lakehouse",
            str(root),
        ]
    )
    assert rc == 0
    assert "quarantined rows: 1" in capsys.readouterr().out


def test_ingest_daily_frequency_and_catalog(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spend, outcome = feeds(tmp_path)
    root = tmp_path / "lh"
    args = ["ingest", "--spend", str(spend), "--outcome", str(outcome), "--frequency", "daily"]
    rc = main([*args, "--catalog", "dev", "--schema", "mmm", "--lakehouse", str(root)])
    assert rc == 2  # weekly outcome cannot be made daily
    assert "frequency_mixed" in capsys.readouterr().err


def test_tables_lists_and_describes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "lh"
    assert main(["tables", "--lakehouse", str(root)]) == 0
    assert "no tables found" in capsys.readouterr().out
    spend, outcome = feeds(tmp_path)
    main(["ingest", "--spend", str(spend), "--outcome", str(outcome), "--lakehouse", str(root)])
    capsys.readouterr()
    assert main(["tables", "--lakehouse", str(root)]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split() == ["table", "version", "rows", "columns"]
    assert len(listing) == 1 + 8
    assert any(line.split()[:3] == ["main.mediamix.mmm_gold", "0", "2"] for line in listing)
    assert main(["tables", "mmm_gold", "--lakehouse", str(root)]) == 0
    described = capsys.readouterr().out
    assert "main.mediamix.mmm_gold  version 0  2 rows" in described
    assert "sales" in described and "version 0" in described and "WRITE" in described
    assert main(["tables", "nope", "--lakehouse", str(root)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_generate_ingest_writes_gold(
    tmp_path: Path, basic_config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "data.csv"
    root = tmp_path / "lh"
    rc = main(
        [
            "generate",
            "--config",
            str(basic_config_path),
            "--out",
            str(out),
            "--ingest",
            "--lakehouse",
            str(root),
        ]
    )
    assert rc == 0
    assert "main.mediamix.mmm_gold" in capsys.readouterr().out
    gold = lake.load_modeling_frame("mmm_gold", lakehouse=root)
    from_csv = lake.load_modeling_frame(out)
    pd.testing.assert_frame_equal(gold, from_csv, check_exact=False, rtol=1e-12)


def test_ingest_incremental_merges_a_delivery_from_a_folder_with_its_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spend, outcome = feeds(tmp_path)
    root = tmp_path / "lh"
    assert (
        main(["ingest", "--spend", str(spend), "--outcome", str(outcome), "--lakehouse", str(root)])
        == 0
    )
    delivery = tmp_path / "Volumes" / "main" / "mediamix" / "raw"
    (delivery / "spend").mkdir(parents=True)
    (delivery / "spend" / "week3.csv").write_text("date,channel,spend\n2024-01-15,tv,7\n")
    (delivery / "outcome_week3.csv").write_text("date,sales\n2024-01-08,61\n2024-01-15,70\n")
    args = ["ingest", "--incremental", "--reason", "late week and a fix", "--lakehouse", str(root)]
    args += ["--spend", str(delivery / "spend"), "--outcome", f"{delivery}/outcome*"]
    capsys.readouterr()
    assert main(args) == 0
    assert "restated 1 row(s): 2024-01-08 (late week and a fix)" in capsys.readouterr().out
    gold = lake.read_table("mmm_gold", lakehouse=root).sort_values("date")
    assert gold["sales"].tolist() == [50.0, 61.0, 70.0]
    assert lake.table_history("mmm_gold", lakehouse=root, limit=1)[0].operation == "MERGE"
    assert main([*args, "--allow-rejects"]) == 2
    assert "drop --allow-rejects" in capsys.readouterr().err
