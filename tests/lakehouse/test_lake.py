"""Table I/O on real delta-rs tables in temporary directories, and backend selection."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pandas as pd
import pytest

from mediamix.errors import MediamixError
from mediamix.lakehouse import tables as lake
from mediamix.lakehouse.backend import FINGERPRINT_KEY, frame_fingerprint
from mediamix.lakehouse.delta_rs import DeltaRsBackend
from mediamix.lakehouse.names import LakeError, TableName
from mediamix.lakehouse.spark import SparkBackend


def sample_frame(scale: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": pd.date_range("2024-01-01", periods=4, freq="7D").astype("datetime64[us]"),
            "tv": [1.5 * scale, 0.0, 2.25, 3.0],
            "clicks": pd.Series([1, 2, 3, 4], dtype="int64"),
            "note": pd.Series(["a", None, "c", "d"], dtype="str"),
            "loaded_at": pd.Series(
                pd.to_datetime(["2024-02-01 12:30:00+01:00"] * 4, utc=True)
            ).astype("datetime64[us, UTC]"),
        }
    )


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mmm_gold", ("main", "mediamix", "mmm_gold")),
        ("other.mmm_gold", ("main", "other", "mmm_gold")),
        ("Cat.Sch.T1", ("cat", "sch", "t1")),
        (" dev.mediamix.x ", ("dev", "mediamix", "x")),
    ],
)
def test_table_name_parse_fills_defaults_and_lowercases(name: str, expected: tuple) -> None:
    parsed = TableName.parse(name)
    assert (parsed.catalog, parsed.schema, parsed.table) == expected
    assert str(parsed) == ".".join(expected)


def test_table_name_parse_uses_given_defaults() -> None:
    assert str(TableName.parse("t", catalog="dev", schema="s")) == "dev.s.t"
    assert str(TableName.parse("a.b.t", catalog="dev", schema="s")) == "a.b.t"


@pytest.mark.parametrize("name", ["a.b.c.d", "bad-name", "1table", "a..b", "", "x.y z"])
def test_table_name_parse_rejects_bad_names(name: str) -> None:
    with pytest.raises(LakeError, match="invalid table name"):
        TableName.parse(name)


def test_lake_error_is_a_mediamix_error() -> None:
    assert issubclass(LakeError, MediamixError)


def test_lakehouse_root_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MEDIAMIX_LAKEHOUSE", raising=False)
    assert lake.lakehouse_root() == Path("lakehouse")
    monkeypatch.setenv("MEDIAMIX_LAKEHOUSE", str(tmp_path / "env"))
    assert lake.lakehouse_root() == tmp_path / "env"
    assert lake.lakehouse_root(tmp_path / "arg") == tmp_path / "arg"


# --------------------------------------------------------------------------- delta-rs I/O


def test_round_trip_keeps_values_and_types(tmp_path: Path) -> None:
    df = sample_frame()
    res = lake.write_table(df, "main.mediamix.t", lakehouse=tmp_path)
    assert res.version == 0 and res.rows == 4 and not res.skipped
    # the local layout is <root>/<catalog>/<schema>/<table> with a Delta transaction log
    assert (tmp_path / "main" / "mediamix" / "t" / "_delta_log").is_dir()
    back = lake.read_table("t", lakehouse=tmp_path)
    pd.testing.assert_frame_equal(back, df)
    columns = dict(lake.describe_table("t", lakehouse=tmp_path).columns)
    assert columns == {
        "date": "date",
        "tv": "double",
        "clicks": "long",
        "note": "string",
        "loaded_at": "timestamp",
    }


def test_round_trip_converts_timezones_to_utc(tmp_path: Path) -> None:
    df = pd.DataFrame({"at": pd.to_datetime(["2024-01-01 12:00"]).tz_localize("Europe/Berlin")})
    lake.write_table(df, "t", lakehouse=tmp_path)
    back = lake.read_table("t", lakehouse=tmp_path)
    assert str(back["at"].dtype) == "datetime64[us, UTC]"
    assert back["at"].iloc[0] == pd.Timestamp("2024-01-01 11:00", tz="UTC")


def test_overwrite_creates_versions_and_old_versions_stay_readable(tmp_path: Path) -> None:
    first, second = sample_frame(), sample_frame(scale=2.0)
    lake.write_table(first, "t", lakehouse=tmp_path)
    res = lake.write_table(second, "t", lakehouse=tmp_path)
    assert res.version == 1
    pd.testing.assert_frame_equal(lake.read_table("t", lakehouse=tmp_path), second)
    pd.testing.assert_frame_equal(lake.read_table("t", version=0, lakehouse=tmp_path), first)
    history = lake.table_history("t", lakehouse=tmp_path)
    assert [h.version for h in history] == [1, 0]
    assert history[0].metadata[FINGERPRINT_KEY] == frame_fingerprint(second)
    assert history[0].timestamp is not None and history[0].timestamp.tzinfo is not None
    # the transaction log holds one commit per version
    log = sorted((tmp_path / "main" / "mediamix" / "t" / "_delta_log").glob("*.json"))
    assert [p.stem for p in log] == ["00000000000000000000", "00000000000000000001"]


def test_unchanged_overwrite_is_skipped(tmp_path: Path) -> None:
    lake.write_table(sample_frame(), "t", lakehouse=tmp_path)
    again = lake.write_table(sample_frame(), "t", lakehouse=tmp_path)
    assert again.skipped and again.version == 0
    assert len(lake.table_history("t", lakehouse=tmp_path)) == 1


def test_explicit_fingerprint_decides_skipping(tmp_path: Path) -> None:
    lake.write_table(sample_frame(), "t", fingerprint="same", lakehouse=tmp_path)
    res = lake.write_table(sample_frame(scale=3.0), "t", fingerprint="same", lakehouse=tmp_path)
    assert res.skipped
    res = lake.write_table(sample_frame(scale=3.0), "t", fingerprint="new", lakehouse=tmp_path)
    assert not res.skipped and res.version == 1


def test_append_adds_rows_as_a_new_version(tmp_path: Path) -> None:
    lake.write_table(sample_frame(), "t", lakehouse=tmp_path)
    res = lake.write_table(sample_frame(), "t", mode="append", lakehouse=tmp_path)
    assert res.version == 1
    assert len(lake.read_table("t", lakehouse=tmp_path)) == 8
    assert len(lake.read_table("t", version=0, lakehouse=tmp_path)) == 4


def test_schema_enforcement_rejects_a_different_type(tmp_path: Path) -> None:
    lake.write_table(sample_frame(), "t", lakehouse=tmp_path)
    bad = sample_frame().assign(tv=["x", "y", "z", "w"])
    with pytest.raises(
        LakeError, match=r"schema mismatch.*'tv' is string but the table has double"
    ):
        lake.write_table(bad, "t", lakehouse=tmp_path)
    # nothing was written: version 0 is still current and readable
    assert lake.describe_table("t", lakehouse=tmp_path).version == 0
    pd.testing.assert_frame_equal(lake.read_table("t", lakehouse=tmp_path), sample_frame())


def test_schema_enforcement_on_append_names_missing_and_extra_columns(tmp_path: Path) -> None:
    lake.write_table(sample_frame(), "t", lakehouse=tmp_path)
    bad = sample_frame().drop(columns="note").assign(extra=1.0)
    with pytest.raises(LakeError, match=r"missing columns \['note'\].*unknown columns \['extra'\]"):
        lake.write_table(bad, "t", mode="append", lakehouse=tmp_path)
    assert len(lake.read_table("t", lakehouse=tmp_path)) == 4


def test_replace_schema_changes_columns_and_keeps_old_version(tmp_path: Path) -> None:
    lake.write_table(sample_frame(), "t", lakehouse=tmp_path)
    new = pd.DataFrame({"date": sample_frame()["date"], "radio": [1.0, 2.0, 3.0, 4.0]})
    res = lake.write_table(new, "t", replace_schema=True, lakehouse=tmp_path)
    assert res.version == 1
    pd.testing.assert_frame_equal(lake.read_table("t", lakehouse=tmp_path), new)
    assert "tv" in lake.read_table("t", version=0, lakehouse=tmp_path).columns


def test_empty_frame_creates_a_typed_table(tmp_path: Path) -> None:
    lake.write_table(sample_frame().iloc[:0], "t", lakehouse=tmp_path)
    back = lake.read_table("t", lakehouse=tmp_path)
    assert back.empty
    assert list(back.dtypes.astype(str)) == list(sample_frame().dtypes.astype(str))


def test_naive_datetimes_with_a_time_of_day_are_refused(tmp_path: Path) -> None:
    df = pd.DataFrame({"when": pd.to_datetime(["2024-01-01 10:30"])})
    with pytest.raises(LakeError, match="holds times of day"):
        lake.write_table(df, "t", lakehouse=tmp_path)
    assert not DeltaRsBackend(tmp_path).exists(TableName.parse("t"))


@pytest.mark.parametrize("columns", [["a", "A"], ["a b"], [""]])
def test_unusable_column_names_are_refused(tmp_path: Path, columns: list[str]) -> None:
    df = pd.DataFrame([[1.0] * len(columns)], columns=columns)
    with pytest.raises(LakeError, match="column names"):
        lake.write_table(df, "t", lakehouse=tmp_path)


def test_bad_write_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LakeError, match="mode must be"):
        lake.write_table(sample_frame(), "t", mode="merge", lakehouse=tmp_path)  # type: ignore[arg-type]


def test_missing_table_and_missing_version_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(LakeError, match=r"main\.mediamix\.nope does not exist"):
        lake.read_table("nope", lakehouse=tmp_path)
    lake.write_table(sample_frame(), "t", lakehouse=tmp_path)
    with pytest.raises(LakeError, match="has versions 0 to 0, not 3"):
        lake.read_table("t", version=3, lakehouse=tmp_path)


def test_backend_and_lakehouse_are_exclusive(tmp_path: Path) -> None:
    with pytest.raises(LakeError, match="not both"):
        lake.read_table("t", backend=DeltaRsBackend(tmp_path), lakehouse=tmp_path)


def test_list_and_describe_tables(tmp_path: Path) -> None:
    lake.write_table(sample_frame(), "main.mediamix.a", lakehouse=tmp_path)
    lake.write_table(sample_frame(), "main.mediamix.a", mode="append", lakehouse=tmp_path)
    lake.write_table(sample_frame(), "dev.other.b", lakehouse=tmp_path)
    (tmp_path / "main" / "mediamix" / "not_a_table").mkdir()
    infos = lake.list_tables(lakehouse=tmp_path)
    assert [str(i.name) for i in infos] == ["dev.other.b", "main.mediamix.a"]
    a = infos[1]
    assert (a.version, a.rows, a.backend) == (1, 8, "delta-rs")
    assert a.location == str(tmp_path / "main" / "mediamix" / "a")
    only = lake.list_tables(catalog="dev", lakehouse=tmp_path)
    assert [str(i.name) for i in only] == ["dev.other.b"]
    assert lake.list_tables(schema="nothing", lakehouse=tmp_path) == []


def test_env_variable_sets_the_default_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDIAMIX_LAKEHOUSE", str(tmp_path))
    lake.write_table(sample_frame(), "t")
    assert (tmp_path / "main" / "mediamix" / "t" / "_delta_log").is_dir()


# --------------------------------------------------------------------------- fingerprints


def test_fingerprint_tracks_content_not_identity() -> None:
    a, b = sample_frame(), sample_frame()
    assert frame_fingerprint(a) == frame_fingerprint(b)
    assert frame_fingerprint(a) != frame_fingerprint(sample_frame(scale=2.0))
    assert frame_fingerprint(a) != frame_fingerprint(a[a.columns[::-1]])
    assert frame_fingerprint(a) != frame_fingerprint(a.iloc[:0])
    shifted = a.assign(loaded_at=a["loaded_at"] + pd.Timedelta(hours=1))
    assert frame_fingerprint(shifted) != frame_fingerprint(a)
    assert frame_fingerprint(shifted, exclude=("loaded_at",)) == frame_fingerprint(
        a, exclude=("loaded_at",)
    )


# --------------------------------------------------------------------------- modeling frame


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("mmm_gold", True),
        ("mediamix.mmm_gold", True),
        ("main.mediamix.mmm_gold", True),
        ("data.csv", False),
        ("data/synthetic.csv", False),
        ("a.b.c.d", False),
        ("my-file", False),
    ],
)
def test_looks_like_table_name(source: str, expected: bool) -> None:
    assert lake.looks_like_table_name(source) is expected


def test_an_existing_file_is_never_a_table_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("gold").write_text("date,x\n2024-01-01,1\n")
    assert not lake.looks_like_table_name("gold")


def test_load_modeling_frame_from_a_table_and_from_csv(tmp_path: Path) -> None:
    gold = pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-01-08", "2024-01-01"]).astype("datetime64[us]"),
            "tv": [2.0, 1.0],
            "sales": [20.0, 10.0],
        }
    )
    lake.write_table(gold, "main.mediamix.mmm_gold", lakehouse=tmp_path)
    from_table = lake.load_modeling_frame("mmm_gold", lakehouse=tmp_path)
    assert from_table["date"].is_monotonic_increasing
    assert from_table["tv"].tolist() == [1.0, 2.0]
    csv = tmp_path / "gold.csv"
    gold.to_csv(csv, index=False)
    from_csv = lake.load_modeling_frame(csv)
    # a file keeps its row order, so the model's checks can report unsorted dates
    pd.testing.assert_frame_equal(from_csv, gold)
    lake.write_table(gold.assign(tv=[5.0, 6.0]), "mmm_gold", lakehouse=tmp_path)
    old = lake.load_modeling_frame("main.mediamix.mmm_gold", version=0, lakehouse=tmp_path)
    assert old["tv"].tolist() == [1.0, 2.0]


def test_load_modeling_frame_errors(tmp_path: Path) -> None:
    with pytest.raises(LakeError, match="neither a file nor a table name"):
        lake.load_modeling_frame(tmp_path / "missing.csv")
    bad = tmp_path / "nodate.csv"
    bad.write_text("day,x\n1,2\n")
    with pytest.raises(LakeError, match="no 'date' column"):
        lake.load_modeling_frame(bad)
    with pytest.raises(LakeError, match="does not exist"):
        lake.load_modeling_frame("mmm_gold", lakehouse=tmp_path)


# --------------------------------------------------------------------------- backend choice


class FakeConf:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.values.get(key, default)


class FakeSession:
    def __init__(self, conf: dict[str, str]) -> None:
        self.conf = FakeConf(conf)


def install_fake_pyspark(monkeypatch: pytest.MonkeyPatch, session: FakeSession | None) -> None:
    """A stand-in ``pyspark.sql`` whose SparkSession reports ``session`` as active."""
    fake_sql = types.ModuleType("pyspark.sql")

    class SparkSession:
        @staticmethod
        def getActiveSession() -> FakeSession | None:  # noqa: N802 - pyspark's name
            return session

    fake_sql.SparkSession = SparkSession  # type: ignore[attr-defined]
    fake_pkg = types.ModuleType("pyspark")
    fake_pkg.sql = fake_sql  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pyspark", fake_pkg)
    monkeypatch.setitem(sys.modules, "pyspark.sql", fake_sql)


def test_get_backend_defaults_to_delta_rs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    monkeypatch.setenv("MEDIAMIX_LAKEHOUSE", str(tmp_path))
    backend = lake.get_backend()
    assert isinstance(backend, DeltaRsBackend) and backend.root == tmp_path


def test_get_backend_uses_an_active_spark_session_with_delta(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    session = FakeSession({"spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension"})
    install_fake_pyspark(monkeypatch, session)
    backend = lake.get_backend()
    assert isinstance(backend, SparkBackend) and backend.spark is session
    assert backend.fmt == "delta"
    # an explicit lakehouse directory always means the local backend
    assert isinstance(lake.get_backend("somewhere"), DeltaRsBackend)


def test_get_backend_ignores_a_spark_session_without_delta(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    install_fake_pyspark(monkeypatch, FakeSession({}))
    assert isinstance(lake.get_backend(), DeltaRsBackend)
    install_fake_pyspark(monkeypatch, None)
    assert isinstance(lake.get_backend(), DeltaRsBackend)


def test_get_backend_on_databricks_uses_spark(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "15.4")
    session = FakeSession({})  # the runtime always has Delta, whatever the conf says
    install_fake_pyspark(monkeypatch, session)
    backend = lake.get_backend()
    assert isinstance(backend, SparkBackend) and backend.spark is session


def test_history_metadata_is_json_serializable(tmp_path: Path) -> None:
    lake.write_table(sample_frame(), "t", lakehouse=tmp_path)
    entry = lake.table_history("t", lakehouse=tmp_path)[0]
    assert entry.operation == "WRITE"
    assert json.loads(json.dumps(entry.metadata)) == entry.metadata
