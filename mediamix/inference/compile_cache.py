"""A compile cache that outlives the machine: PyTensor's and numba's compiled code, archived.

A Databricks job run starts on fresh compute, so PyTensor's compile directory and numba's cache
start empty and a fit spends most of its time compiling the model's log-density (about 30 s on
the shipped 3-channel model, against a 6-7 s fit with warm caches). This module keeps that work
in one archive per machine and software stack under a persistent folder, the **root** (a Unity
Catalog Volume such as ``/Volumes/main/mediamix/cache/compile``):

- :func:`activate`, before PyTensor is imported, unpacks ``<root>/<key>.tar.gz`` (when there is
  one) into a local folder and points PyTensor's ``base_compiledir`` and ``NUMBA_CACHE_DIR``
  there. Volumes are object storage behind FUSE: small files and renames inside them are slow
  and unreliable, so the compilers never write to the root itself;
- :meth:`CompileCache.save`, after a successful fit, writes a new archive when the run compiled
  anything the archive lacked: built locally, copied to a hidden temporary name in the root,
  then renamed over ``<key>.tar.gz``. Concurrent jobs: the last writer wins, and a reader only
  ever sees a whole archive.

One archive per key (:func:`mediamix.inference.compile_key.cache_key`: Python, the compiling
packages' versions, architecture and CPU). An archive that cannot be read, or that lacks its
manifest (written last, so a truncated archive has none), is ignored with a
:class:`CompileCacheWarning` and the fit compiles as on a first run, then replaces it.
The archive format is gzip-compressed tar: on the shipped model 1.5 MiB against 5 MiB for plain
tar, unpacked in about 0.05 s (zstd would save a few milliseconds and add a dependency).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile
import time
import uuid
import warnings
import zlib
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NamedTuple

from mediamix.errors import MediamixError
from mediamix.inference.compile_key import cache_key, key_parts, root_setting

__all__ = [
    "MANIFEST",
    "CompileCache",
    "CompileCacheError",
    "CompileCacheWarning",
    "SavedArchive",
    "activate",
    "archive_path",
    "default_local_base",
    "open_for_command",
    "restore",
]

SUFFIX = ".tar.gz"
MANIFEST = "mediamix-compile-cache.json"
_PARTIAL = ".partial"
_STALE_PARTIAL_S = 3600.0  # a temporary archive this old was left by a killed process


class CompileCacheError(MediamixError):
    """A compile cache root that cannot be used (a file where a folder is needed)."""


class CompileCacheWarning(UserWarning):
    """The compile cache could not be read or written; the fit goes on without it."""


def archive_path(root: Path, key: str) -> Path:
    """The archive of ``key`` under ``root``: ``<root>/<key>.tar.gz``."""
    return root / f"{key}{SUFFIX}"


def default_local_base() -> Path:
    """Where restored caches live on this machine: ``$TMPDIR/mediamix-compile-cache``."""
    return Path(tempfile.gettempdir()) / "mediamix-compile-cache"


# --------------------------------------------------------------------------- the local copy


def _skipped(name: str) -> bool:
    """Locks and numba's half-written files: never archived."""
    return name == ".lock" or name.endswith(".lock") or ".tmp." in name


def _entries(local_dir: Path) -> dict[str, int]:
    """Every cache file under ``local_dir``: relative POSIX path -> size in bytes."""
    found: dict[str, int] = {}
    for folder, dirs, files in os.walk(local_dir):
        # PyTensor marks a C module it gave up on with delete.me; its lock folder is transient
        dirs[:] = [d for d in dirs if d != "lock_dir"]
        if "delete.me" in files:
            dirs[:] = []
            continue
        for name in files:
            path = Path(folder) / name
            if not _skipped(name) and path.is_file() and not path.is_symlink():
                found[path.relative_to(local_dir).as_posix()] = path.stat().st_size
    return found


def _point_compilers_at(local_dir: Path, env: MutableMapping[str, str]) -> None:
    """Send PyTensor's and numba's caches to ``local_dir`` (read when they are imported)."""
    flags = [f.strip() for f in env.get("PYTENSOR_FLAGS", "").split(",") if f.strip()]
    # compiledir would override the location that base_compiledir gives
    flags = [
        f for f in flags if f.split("=", 1)[0].strip() not in ("base_compiledir", "compiledir")
    ]
    env["PYTENSOR_FLAGS"] = ",".join([*flags, f"base_compiledir={local_dir / 'pytensor'}"])
    env["NUMBA_CACHE_DIR"] = str(local_dir / "numba")
    if "numba" in sys.modules:  # numba reads its environment once, at import
        from numba.core import config

        config.reload_config()


def _pytensor_elsewhere(local_dir: Path) -> Path | None:
    """PyTensor's compile directory when it was imported already with another one, else None."""
    pytensor = sys.modules.get("pytensor")
    config = getattr(pytensor, "config", None)
    if config is None:
        return None
    current = Path(config.base_compiledir)
    return None if current == local_dir / "pytensor" else current


# --------------------------------------------------------------------------- restoring


class _UnreadableError(Exception):
    """An archive that is not a complete cache archive of this key."""


def _extract(archive: Path, tree: Path, key: str) -> dict[str, int]:
    """Unpack ``archive`` into ``tree`` and check it against its manifest; the files in it."""
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(tree, filter="data")  # no absolute paths, links out, devices
    manifest = tree / MANIFEST
    if not manifest.is_file():
        raise _UnreadableError("it has no manifest (incomplete, or not a mediamix compile cache)")
    doc = json.loads(manifest.read_text())
    if doc.get("key") != key:
        raise _UnreadableError(f"its manifest names the key {doc.get('key')!r}, not {key!r}")
    files: dict[str, int] = {str(k): int(v) for k, v in doc["files"].items()}
    for rel, size in files.items():
        path = tree / rel
        if not path.is_file() or path.stat().st_size != size:
            raise _UnreadableError(f"{rel} is missing or not {size} bytes")
    return files


def _move_absent(tree: Path, local_dir: Path, files: Mapping[str, int]) -> int:
    """Move each file into ``local_dir`` unless it is there already (each move atomic); count."""
    moved = 0
    for rel in files:
        target = local_dir / rel
        if target.exists():
            continue
        moved += 1
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tree / rel, target)
        # restored entries count as used now for PyTensor's age-based clean-up of its cache
        os.utime(target, None)
    return moved


def _restore(archive: Path, local_dir: Path, key: str) -> tuple[frozenset[str], str]:
    """Unpack the archive into ``local_dir``; the files it held and a note for people."""
    if not archive.is_file():
        return frozenset(), (
            f"compile cache: no {archive.name} in {archive.parent} yet: this run compiles "
            "(a first run) and saves it"
        )
    started = time.perf_counter()
    staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=local_dir.parent))
    try:
        copy = staging / archive.name
        shutil.copyfile(archive, copy)  # one sequential read of the (network) root
        files = _extract(copy, staging / "tree", key)
        moved = _move_absent(staging / "tree", local_dir, files)
        mib = copy.stat().st_size / 2**20
    except (_UnreadableError, tarfile.TarError, EOFError, zlib.error, OSError, ValueError) as exc:
        warnings.warn(
            f"compile cache {archive} is ignored, it cannot be used: {exc}. This run compiles "
            "as a first run does and replaces it",
            CompileCacheWarning,
            stacklevel=4,
        )
        return frozenset(), f"compile cache: {archive} ignored (unreadable); compiling afresh"
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    seconds = time.perf_counter() - started
    if files and not moved:
        note = f"compile cache: the {len(files)} files of {archive} are here already"
    else:
        here = f", {len(files) - moved} of them here already" if moved < len(files) else ""
        note = (
            f"compile cache: restored {len(files)} files ({mib:.1f} MiB) from {archive} "
            f"in {seconds:.2f} s{here}"
        )
    return frozenset(files), note


# --------------------------------------------------------------------------- saving


class SavedArchive(NamedTuple):
    """An archive :meth:`CompileCache.save` wrote.

    Attributes
    ----------
    path : Path
        ``<root>/<key>.tar.gz``.
    files : int
        Cache files in it.
    new : int
        Of those, the ones the archive it replaced lacked.
    size_bytes : int
        Its size.
    seconds : float
        Time to build and copy it.
    """

    path: Path
    files: int
    new: int
    size_bytes: int
    seconds: float

    @property
    def note(self) -> str:
        """One line for people."""
        return (
            f"compile cache: saved {self.files} files ({self.new} new, "
            f"{self.size_bytes / 2**20:.1f} MiB) to {self.path} in {self.seconds:.2f} s"
        )


def _fsync(handle: IO[bytes]) -> None:
    handle.flush()
    with contextlib.suppress(OSError):  # some FUSE mounts do not implement fsync
        os.fsync(handle.fileno())


def _build(local_dir: Path, files: Mapping[str, int], target: Path, key: str) -> int:
    """Write the gzip tar of ``files`` to ``target``, manifest last; the files written."""
    written: dict[str, int] = {}
    with target.open("wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for rel in sorted(files):
            path = local_dir / rel
            try:
                info = tar.gettarinfo(str(path), arcname=rel)
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
            except FileNotFoundError:  # removed meanwhile (PyTensor's own clean-up)
                continue
            written[rel] = info.size
        doc = {"key": key, "files": written, "versions": key_parts(), "written": time.time()}
        data = json.dumps(doc, indent=1).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mtime = len(data), int(time.time())
        tar.addfile(info, io.BytesIO(data))
    return len(written)


def _remove_stale_partials(root: Path, key: str) -> None:
    """Temporary archives of ``key`` that a killed process left behind (hours old)."""
    now = time.time()
    for path in root.glob(f".{key}{SUFFIX}.*{_PARTIAL}"):
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime > _STALE_PARTIAL_S:
                path.unlink()


def _publish(local_dir: Path, files: Mapping[str, int], root: Path, key: str) -> int:
    """Build the archive locally, copy it to a hidden name in ``root``, rename it into place.

    Whatever happens (an error, Ctrl-C, SIGTERM raised as an exception), the temporary files
    are removed; their names (``.<key>.tar.gz.<id>.partial``) never look like an archive.
    """
    token = uuid.uuid4().hex[:12]
    local_tmp = local_dir.parent / f".{key}{SUFFIX}.{token}{_PARTIAL}"
    root_tmp = root / f".{key}{SUFFIX}.{token}{_PARTIAL}"
    try:
        count = _build(local_dir, files, local_tmp, key)
        with local_tmp.open("rb") as src, root_tmp.open("wb") as dst:
            shutil.copyfileobj(src, dst, length=1 << 20)  # sequential writes only
            _fsync(dst)
        os.replace(root_tmp, archive_path(root, key))
    finally:
        local_tmp.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            root_tmp.unlink(missing_ok=True)
    return count


# --------------------------------------------------------------------------- the cache


@dataclass
class CompileCache:
    """A restored compile cache: the local copy the compilers use and the root it came from.

    Attributes
    ----------
    root : Path
        The persistent folder that holds ``<key>.tar.gz``.
    key : str
        :func:`cache_key` of this machine and stack.
    local_dir : Path
        The local copy: PyTensor's ``base_compiledir`` is ``local_dir/pytensor``, numba's
        cache ``local_dir/numba``.
    archived : frozenset of str
        The files the root's archive holds (relative paths); anything else in ``local_dir`` is
        new and makes :meth:`save` write.
    note : str
        What restoring did, one line for people.
    """

    root: Path
    key: str
    local_dir: Path
    archived: frozenset[str]
    note: str

    @property
    def archive(self) -> Path:
        """``<root>/<key>.tar.gz``."""
        return archive_path(self.root, self.key)

    def new_entries(self) -> list[str]:
        """Cache files compiled since the restore that the root's archive lacks, sorted."""
        return sorted(set(_entries(self.local_dir)) - self.archived)

    def save(self) -> SavedArchive | None:
        """Write a new archive to the root if this run compiled anything it lacked.

        Returns
        -------
        SavedArchive or None
            The archive written; None when there was nothing new, or when the root could not
            be written (then with a :class:`CompileCacheWarning`: the fit's results stand).
        """
        started = time.perf_counter()
        files = _entries(self.local_dir)
        new = set(files) - self.archived
        if not new:
            return None
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            _remove_stale_partials(self.root, self.key)
            count = _publish(self.local_dir, files, self.root, self.key)
            size = self.archive.stat().st_size
        except OSError as exc:
            warnings.warn(
                f"compile cache: could not save to {self.root}: {exc}. The next run on a fresh "
                "machine compiles again (a Volume must exist before anything is written to it: "
                "RUNME.py creates the 'cache' Volume)",
                CompileCacheWarning,
                stacklevel=2,
            )
            return None
        self.archived = frozenset(files)
        return SavedArchive(self.archive, count, len(new), size, time.perf_counter() - started)

    def finish(self) -> str:
        """:meth:`save`, and what it did in one line for people."""
        saved = self.save()
        return saved.note if saved else f"compile cache: nothing new to save to {self.root}"


def activate(
    root: Path | str | None,
    *,
    local_base: Path | None = None,
    env: MutableMapping[str, str] | None = None,
) -> CompileCache | None:
    """Restore the root's archive locally and point PyTensor and numba at it.

    Call it before PyTensor is imported (the command line and the notebooks do): PyTensor reads
    its compile directory once, at import.

    Parameters
    ----------
    root : Path or str, optional
        The persistent folder (see :func:`resolve_root`); None: no cache, nothing happens.
    local_base : Path, optional
        Where local copies live (:func:`default_local_base` by default); the copy is
        ``<local_base>/<key>``.
    env : mutable mapping, optional
        The environment to set ``PYTENSOR_FLAGS`` and ``NUMBA_CACHE_DIR`` in (``os.environ``).

    Returns
    -------
    CompileCache or None
        None when ``root`` is None, or when PyTensor was imported already with another compile
        directory (then with a :class:`CompileCacheWarning`).

    Raises
    ------
    CompileCacheError
        If ``root`` is an existing file.
    """
    if root is None:
        return None
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise CompileCacheError(f"compile cache {root} is a file; give a folder (or none)")
    key = cache_key()
    local_dir = (local_base or default_local_base()) / key
    elsewhere = _pytensor_elsewhere(local_dir)
    if elsewhere is not None:
        warnings.warn(
            f"compile cache {root} is not used: PyTensor was imported before it was set up, "
            f"so its compiled code goes to {elsewhere}. Set the cache up first",
            CompileCacheWarning,
            stacklevel=2,
        )
        return None
    cache = restore(root, key, local_dir)
    _point_compilers_at(local_dir, os.environ if env is None else env)
    return cache


def restore(root: Path, key: str, local_dir: Path) -> CompileCache:
    """Unpack ``<root>/<key>.tar.gz`` into ``local_dir``, keeping the files already there.

    The compilers are not touched: :func:`activate` points them at ``local_dir``.

    Parameters
    ----------
    root : Path
        The persistent folder.
    key : str
        The archive's key (:func:`~mediamix.inference.compile_key.cache_key`).
    local_dir : Path
        The local copy; created when missing.

    Returns
    -------
    CompileCache
        With the archive's files as :attr:`CompileCache.archived`: none when there is no
        archive, or when it cannot be used (then with a :class:`CompileCacheWarning`).
    """
    local_dir.mkdir(parents=True, exist_ok=True)
    archived, note = _restore(archive_path(root, key), local_dir, key)
    return CompileCache(root=root, key=key, local_dir=local_dir, archived=archived, note=note)


def open_for_command(
    option: str | None, env: Mapping[str, str] | None = None, out: IO[str] | None = None
) -> CompileCache | None:
    """The compile cache of a command: ``--compile-cache``, else ``$MEDIAMIX_COMPILE_CACHE``.

    Parameters
    ----------
    option : str, optional
        The option's value (None when not given; empty turns the cache off).
    env : mapping, optional
        Where :data:`ENV_VAR` is read (``os.environ``).
    out : file, optional
        Where the restore's note is printed (stderr).

    Returns
    -------
    CompileCache or None
        As :func:`activate`.
    """
    cache = activate(root_setting(option, env))
    if cache is not None:
        print(cache.note, file=out or sys.stderr)
    return cache
