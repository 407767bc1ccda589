"""The compile cache kept between machines: key, archive round trip, bad archives, safe saves.

The slow test fits twice in fresh processes with fresh local folders: the first compiles and
writes the archive (replacing a corrupt one), the second restores it and compiles nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
from importlib import metadata
from pathlib import Path

import pytest
from llvmlite import binding

from mediamix.cli import build_parser, main
from mediamix.databricks.notebook import ModelParams
from mediamix.inference import compile_cache
from mediamix.inference.compile_cache import (
    MANIFEST,
    CompileCache,
    CompileCacheError,
    CompileCacheWarning,
    activate,
    archive_path,
    restore,
)
from mediamix.inference.compile_key import (
    ENV_VAR,
    KEYED_PACKAGES,
    cache_key,
    key_parts,
    root_setting,
)
from mediamix.inference.interrupts import FitInterrupted, interrupt_guard

REPO = Path(__file__).resolve().parents[2]
MODEL_CONFIG = REPO / "config/model/basic_config.yaml"
KEY = "cpython-312-x86_64-0123456789abcdef01234567"

# what a compile directory holds: cache entries, and the transient files that are never archived
ENTRIES = {
    "pytensor/numba/string.f-abc.py312.nbi": b"index" * 10,
    "pytensor/numba/string.f-abc.py312.1.nbc": bytes(range(256)) * 4,
    "pytensor/compiledir_x/lazylinker_ext/lazylinker_ext.so": b"\x7fELF" + b"\0" * 500,
    "pytensor/compiledir_x/tmpab12cd/key.pkl": b"key",
}
TRANSIENT = {
    "pytensor/compiledir_x/.lock": b"",
    "pytensor/compiledir_x/lock_dir/lock": b"pid",
    "pytensor/numba/string.g.py312.nbi.tmp.0f0f0f": b"half",
    "pytensor/compiledir_x/tmpbroken/delete.me": b"",
    "pytensor/compiledir_x/tmpbroken/mod.so": b"broken",
}


def _generated(path: Path) -> None:
    from mediamix.data.generator import Generator

    generator = Generator.from_config_file(REPO / "config/generator/basic_config.yaml")
    generator.generate().data.to_csv(path, index=False)


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _partials(*folders: Path) -> list[Path]:
    return [p for folder in folders for p in folder.glob(".*") if p.name.endswith(".partial")]


@pytest.fixture
def saved(tmp_path: Path) -> CompileCache:
    """A cache whose archive was written from ENTRIES (and the transient files beside them)."""
    local = _tree(tmp_path / "first" / KEY, ENTRIES | TRANSIENT)
    cache = CompileCache(tmp_path / "root", KEY, local, frozenset(), "")
    written = cache.save()
    assert written is not None and written.files == len(ENTRIES) and written.new == len(ENTRIES)
    return cache


# --------------------------------------------------------------------------- key and root


def test_the_key_changes_with_every_part_and_only_then() -> None:
    parts = key_parts()
    assert cache_key(parts) == cache_key(dict(parts)) == cache_key()
    assert cache_key().startswith(f"{sys.implementation.cache_tag}-")
    keys = {cache_key(parts | {name: value + "+1"}) for name, value in parts.items()}
    assert len(keys) == len(parts) and cache_key(parts) not in keys


def test_the_key_is_made_of_the_installed_versions_and_this_cpu() -> None:
    parts = key_parts()
    for name in KEYED_PACKAGES:
        assert parts[name] == metadata.version(name)
    assert sys.version in parts["python"]
    assert parts["cpu"].startswith(binding.get_host_cpu_name() + " ")
    assert binding.get_host_cpu_features().flatten() in parts["cpu"]


def test_the_option_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    env = {ENV_VAR: "/from/env"}
    assert root_setting("/from/option", env) == Path("/from/option")
    assert root_setting(None, env) == Path("/from/env")
    assert root_setting("", env) is None  # an empty option turns it off
    assert root_setting(None, {}) is None
    assert root_setting("auto", {}) is None  # off Databricks, PyTensor's own cache lasts
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "17.3")
    assert root_setting("auto", {}) == Path("/Volumes/main/mediamix/cache/compile")
    params = ModelParams(catalog="team", schema="mmm")
    assert params.compile_cache_root == Path("/Volumes/team/mmm/cache/compile")
    assert ModelParams(compile_cache=" ").compile_cache_root is None
    assert ModelParams(compile_cache="/Volumes/a/b/c/d").compile_cache_root == Path(
        "/Volumes/a/b/c/d"
    )


def test_fit_validate_and_fit_many_take_the_option() -> None:
    parser = build_parser()
    common = ["--data", "d.csv", "--config", "c.yaml", "--out", "o", "--compile-cache", "/v/c"]
    for command in (["fit"], ["validate", "--holdout-weeks", "4"], ["fit-many", "--group-by", "g"]):
        assert parser.parse_args([*command, *common]).compile_cache == "/v/c"


def test_a_root_that_is_a_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "cache"
    root.write_text("x")
    with pytest.raises(CompileCacheError, match="is a file; give a folder"):
        activate(root, local_base=tmp_path / "local", env={})
    data = tmp_path / "data.csv"
    _generated(data)
    args = ["fit", "--data", str(data), "--config", str(MODEL_CONFIG), "--out", str(tmp_path / "o")]
    assert main([*args, "--no-tracking", "--compile-cache", str(root)]) == 2
    assert f"error: compile cache {root} is a file" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------- archives


def test_an_archive_restores_the_entries_and_nothing_transient(
    saved: CompileCache, tmp_path: Path
) -> None:
    with tarfile.open(saved.archive) as tar:
        names = tar.getnames()
    assert names[-1] == MANIFEST  # written last: a truncated archive has none
    assert json.loads(_manifest(saved.archive))["key"] == KEY
    cache = restore(saved.root, KEY, tmp_path / "second" / KEY)
    assert _files(cache.local_dir) == ENTRIES
    assert cache.archived == frozenset(ENTRIES)
    assert "restored 4 files" in cache.note and "here already" not in cache.note
    again = restore(saved.root, KEY, cache.local_dir)  # the same machine, a second run
    assert again.note.endswith("the 4 files of " + str(saved.archive) + " are here already")
    assert cache.new_entries() == [] and cache.save() is None  # nothing new: nothing written
    before = saved.archive.read_bytes()
    _tree(cache.local_dir, {"pytensor/numba/string.h-def.py312.nbi": b"new"})
    written = cache.save()
    assert written is not None and (written.files, written.new) == (5, 1)
    assert saved.archive.read_bytes() != before
    again = restore(saved.root, KEY, tmp_path / "third" / KEY)
    assert set(_files(again.local_dir)) == {*ENTRIES, "pytensor/numba/string.h-def.py312.nbi"}


def _manifest(archive: Path) -> str:
    with tarfile.open(archive) as tar:
        member = tar.extractfile(MANIFEST)
        assert member is not None
        return member.read().decode()


def test_restoring_keeps_what_is_there_already(saved: CompileCache, tmp_path: Path) -> None:
    rel = next(iter(ENTRIES))
    local = _tree(tmp_path / "busy" / KEY, {rel: b"compiled here"})
    cache = restore(saved.root, KEY, local)
    assert cache.note.endswith("s, 1 of them here already")
    assert (local / rel).read_bytes() == b"compiled here"
    assert _files(local) == ENTRIES | {rel: b"compiled here"}


def _corrupt(archive: Path, how: str, tmp_path: Path) -> None:
    good = archive.read_bytes()
    if how == "garbage":
        archive.write_bytes(b"not an archive at all")
    elif how == "truncated":
        archive.write_bytes(good[: len(good) // 2])
    elif how in ("no manifest", "other key", "path out"):
        src = _tree(tmp_path / "src", ENTRIES)
        if how == "other key":
            (src / MANIFEST).write_text(json.dumps({"key": "other", "files": {}}))
        with tarfile.open(archive, "w:gz") as tar:
            for rel in sorted(_files(src)):
                tar.add(src / rel, arcname=("../" + rel) if how == "path out" else rel)


@pytest.mark.parametrize("how", ["garbage", "truncated", "no manifest", "other key", "path out"])
def test_a_bad_archive_is_ignored_with_a_warning_and_replaced(
    saved: CompileCache, tmp_path: Path, how: str
) -> None:
    _corrupt(saved.archive, how, tmp_path)
    local = tmp_path / "next" / KEY
    with pytest.warns(CompileCacheWarning, match="is ignored, it cannot be used"):
        cache = restore(saved.root, KEY, local)
    assert cache.archived == frozenset() and "ignored" in cache.note
    assert _files(local) == {}  # nothing of a bad archive is used
    assert [p.name for p in local.parent.iterdir()] == [KEY]  # its unpacking is cleaned up
    _tree(local, ENTRIES)  # what this run compiles
    written = cache.save()
    assert written is not None and written.files == len(ENTRIES)
    assert _files(restore(saved.root, KEY, tmp_path / "after" / KEY).local_dir) == ENTRIES


def _failing_copy(fail: str):  # type: ignore[no-untyped-def]
    def copy(src, dst, length=0):  # type: ignore[no-untyped-def]
        dst.write(src.read(100))  # part of the new archive is on the root already
        if fail == "error":
            raise OSError(28, "No space left on device")
        if fail == "ctrl-c":
            raise KeyboardInterrupt
        os.kill(os.getpid(), signal.SIGTERM)  # handled by interrupt_guard: raises
        dst.write(src.read())

    return copy


@pytest.mark.parametrize("fail", ["error", "ctrl-c", "sigterm"])
def test_a_failed_save_leaves_the_old_archive_and_no_partial_file(
    saved: CompileCache, monkeypatch: pytest.MonkeyPatch, fail: str
) -> None:
    before = saved.archive.read_bytes()
    _tree(saved.local_dir, {"pytensor/numba/string.h-def.py312.nbi": b"new"})
    monkeypatch.setattr(compile_cache.shutil, "copyfileobj", _failing_copy(fail))
    if fail == "error":
        with pytest.warns(CompileCacheWarning, match="No space left on device"):
            assert saved.save() is None
    else:  # the command's guard turns SIGTERM into an exception, as Ctrl-C is one
        with pytest.raises(KeyboardInterrupt) as caught, interrupt_guard():
            saved.save()
        if fail == "sigterm":
            assert isinstance(caught.value, FitInterrupted) and caught.value.exit_status == 143
    assert saved.archive.read_bytes() == before
    assert _partials(saved.root, saved.local_dir.parent) == []
    assert sorted(p.name for p in saved.root.iterdir()) == [saved.archive.name]
    monkeypatch.undo()
    assert saved.save() is not None  # the new entry is still new: the next save writes it


def test_stale_partial_archives_are_removed_fresh_ones_kept(saved: CompileCache) -> None:
    stale = saved.root / f".{KEY}.tar.gz.aaaa.partial"
    fresh = saved.root / f".{KEY}.tar.gz.bbbb.partial"
    for path in (stale, fresh):
        path.write_bytes(b"half")
    os.utime(stale, (1e9, 1e9))
    _tree(saved.local_dir, {"pytensor/numba/string.h-def.py312.nbi": b"new"})
    assert saved.save() is not None
    assert not stale.exists() and fresh.exists()


def test_an_unwritable_root_warns_and_the_run_goes_on(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    local = _tree(tmp_path / "local" / KEY, ENTRIES)
    cache = CompileCache(blocker / "root", KEY, local, frozenset(), "")
    with pytest.warns(CompileCacheWarning, match="could not save"):
        assert cache.save() is None


# --------------------------------------------------------------------------- real fits


def _fit(tmp: Path, name: str, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    Path(env["TMPDIR"]).mkdir()  # a fresh machine's empty local disk
    cmd = [sys.executable, "-m", "mediamix", "fit", "--data", str(tmp / "data.csv")]
    cmd += ["--config", str(MODEL_CONFIG), "--out", str(tmp / name), "--no-tracking"]
    cmd += ["--draws", "30", "--tune", "30", "--chains", "1", *extra]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)


def _cache_files(local: Path) -> set[str]:
    return {p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()} - {
        p.relative_to(local).as_posix() for p in local.rglob(".lock")
    }


@pytest.mark.slow
def test_a_later_run_restores_the_first_runs_archive_and_compiles_nothing(tmp_path: Path) -> None:
    _generated(tmp_path / "data.csv")
    root, key = tmp_path / "volume" / "compile", cache_key()
    root.mkdir(parents=True)
    archive_path(root, key).write_bytes(b"\x1f\x8b truncated")  # a corrupt archive is there
    base = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", ENV_VAR)}
    unused = tmp_path / "unused"
    base["PYTENSOR_FLAGS"] = f"base_compiledir={unused}"  # the cache's local copy wins
    first_env = base | {"TMPDIR": str(tmp_path / "machine1"), ENV_VAR: str(root)}
    first = _fit(tmp_path, "first", first_env)
    assert first.returncode == 0, first.stderr
    assert "CompileCacheWarning" in first.stderr and "is ignored" in first.stderr
    local1 = tmp_path / "machine1" / "mediamix-compile-cache" / key
    compiled = _cache_files(local1)
    assert any("mediamix_logp" in f for f in compiled)  # nutpie's cached C callback
    assert sum(f.endswith(".nbi") for f in compiled) > 10  # PyTensor's numba functions
    assert not unused.exists()
    manifest = json.loads(_manifest(archive_path(root, key)))
    assert set(manifest["files"]) == compiled
    assert f"saved {len(compiled)} files ({len(compiled)} new" in first.stderr
    archived = archive_path(root, key).read_bytes()

    # a fresh machine: empty local folders; the option wins over an environment that says none
    second_env = base | {"TMPDIR": str(tmp_path / "machine2"), ENV_VAR: ""}
    second = _fit(tmp_path, "second", second_env, "--compile-cache", str(root))
    assert second.returncode == 0, second.stderr
    assert f"restored {len(compiled)} files" in second.stderr
    assert "nothing new to save" in second.stderr
    local2 = tmp_path / "machine2" / "mediamix-compile-cache" / key
    assert _cache_files(local2) == compiled  # no compiler wrote a file: every entry was a hit
    assert archive_path(root, key).read_bytes() == archived
    assert (tmp_path / "second" / "summary.json").is_file()
    assert sorted(p.name for p in root.iterdir()) == [archive_path(root, key).name]
