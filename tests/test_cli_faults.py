"""Bad input through the command line: one clear ``error:`` line and exit 2, never a traceback,
and nothing written or sampled first."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediamix.cli import main
from mediamix.data.generator import Generator

REPO = Path(__file__).resolve().parents[1]
GEN_CONFIG = REPO / "config/generator/basic_config.yaml"
MODEL_CONFIG = REPO / "config/model/basic_config.yaml"
UNWRITABLE = Path("/proc/mediamix-test")  # no one, not even root, can create files here

needs_proc = pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux /proc")


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("faults") / "data.csv"
    Generator.from_config_file(GEN_CONFIG).generate().data.to_csv(path, index=False)
    return path


def _fit(data: Path, out: Path, *extra: str | Path) -> list[str]:
    args = ["fit", "--data", data, "--config", MODEL_CONFIG, "--out", out, "--no-tracking"]
    return [str(a) for a in [*args, *extra]]


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    return err[err.index(line) :]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--draws", "-5"), "draws: Input should be greater than or equal to 1 (got -5)"),
        (("--chains", "0"), "chains: Input should be greater than or equal to 1 (got 0)"),
        (("--target-accept", "1.5"), "target_accept: Input should be less than 1 (got 1.5)"),
    ],
)
def test_bad_sampler_options(
    flags: tuple[str, str],
    message: str,
    data_csv: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    assert main(_fit(data_csv, out, *flags)) == 2
    assert message in _error(capsys)
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (bytes(range(256)) * 8, "is not a text CSV file"),
        (b"date,x\n", "no data"),
    ],
)
def test_empty_or_binary_csv(
    content: bytes, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data.csv"
    data.write_bytes(content)
    assert main(_fit(data, tmp_path / "out")) == 2
    assert message in _error(capsys)


def test_out_that_is_a_file_is_refused_before_sampling(
    data_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("not a directory")
    assert main(_fit(data_csv, blocker / "out")) == 2
    assert f"{blocker} is a file, not a directory" in _error(capsys)
    assert main(_fit(data_csv, blocker)) == 2
    assert "is a file, not a directory" in _error(capsys)
    (tmp_path / "o" / "fit.nc").mkdir(parents=True)
    assert main(_fit(data_csv, tmp_path / "o")) == 2
    assert "fit.nc is a directory" in _error(capsys)


@needs_proc
def test_unwritable_out_is_refused_before_sampling(
    data_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_fit(data_csv, UNWRITABLE / "out")) == 2
    assert "cannot write in /proc" in _error(capsys)


@needs_proc
def test_unwritable_truth_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "data.csv"
    args = ["generate", "--config", str(GEN_CONFIG), "--out", str(out)]
    assert main([*args, "--truth", str(UNWRITABLE / "truth.json")]) == 2
    assert "--truth /proc/mediamix-test/truth.json: cannot write" in _error(capsys)
    assert not list(tmp_path.iterdir())
    assert main([*args, "--truth", str(tmp_path)]) == 2
    assert "is a directory" in _error(capsys)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("sales", 3e15, "outcome column 'sales': rows 5 have magnitude >= 1e+15"),
        ("adwords", 1e-9, "spend column 'adwords': values span"),
    ],
)
def test_absurd_values_are_refused_with_the_row(
    column: str,
    value: float,
    message: str,
    data_csv: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import pandas as pd

    frame = pd.read_csv(data_csv)
    frame.loc[5, column] = value
    bad = tmp_path / "bad.csv"
    frame.to_csv(bad, index=False)
    assert main(_fit(bad, tmp_path / "out")) == 2
    err = _error(capsys)
    assert message in err and "rows 5" in err


def test_optimize_refuses_a_huge_budget_and_a_bad_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mediamix.analysis.metrics import current_spend
    from tests.shared_fit import small_fit

    _, result = small_fit()
    fit_path = result.save(tmp_path / "fit.nc")
    total = float(current_spend(result, None).sum())
    args = ["optimize", "--fit", str(fit_path)]
    assert main([*args, "--budget", str(total * 2000)]) == 2
    assert "at most 1000x" in _error(capsys)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main([*args, "--budget", str(total), "--out", str(blocker / "a.json")]) == 2
    assert "is a file, not a directory" in _error(capsys)
