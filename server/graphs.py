"""The on-disk stores a server serves: one folder per generation of the graph, opened read-only by everyone.

The server process and all its SPARQL workers open the *current* folder with pyoxigraph's
``Store.read_only``: the graph is on disk once, in the page cache once, whatever the number of
workers. A change never writes to a folder anyone has open (pyoxigraph leaves a read-only reader
beside a writer undefined): an update is applied by a worker to a checkpoint of the current
folder (:func:`server.worker.update`), a reload is loaded into a new folder by a child process
(:func:`build`), and :meth:`Graphs.commit` then makes the new folder current.

Layouts:

* ``kg serve`` (no ``--location``): the Turtle files are loaded once into a cache folder named by
  their fingerprint (paths, sizes, modification times): ``$KG_CACHE`` or
  ``~/.cache/jp-funding-kg/stores/<sha256>``. A second start on the same files opens it at once.
  Later generations (updates, reloads) go to a temporary folder removed at exit. Entries are
  never removed by the server (another one may be serving them): delete the folder when no
  server runs to reclaim the space.
* ``kg serve --location DIR``: generations are ``DIR/gen-000001`` …; ``DIR/kg-current`` names
  the one served, replaced atomically (``os.replace``) after the new folder is flushed and before the
  update is acknowledged, so a ``kill -9`` at any point leaves the old or the new graph. A folder
  that is itself a pyoxigraph store (made before this layout) is served as the first generation.

Examples
--------
>>> import tempfile
>>> graphs = Graphs.temporary()
>>> graphs.next_path().name
'gen-000001'
>>> graphs.close()
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pyoxigraph as ox

from kg.errors import KGError
from kg.load import check_syntax
from kg.store import EmbeddedStore

__all__ = ["Graphs", "build", "cache_folder", "cached_store", "fingerprint"]

WORKER = Path(__file__).with_name("worker.py")
POINTER = "kg-current"
"""The file naming the served generation (not `current`: RocksDB writes `CURRENT` in a store folder)."""
KEEP = 3
"""Generations kept on disk: the current one and the two before it (requests may still read them)."""


class Graphs:
    """The store folders of one server: which is current, where the next one goes, which to delete.

    Parameters
    ----------
    root : Path
        Where new generations are made.
    current : Path
        The folder served now.
    persistent : bool
        Record the current folder in ``root/kg-current`` (``--location``) so a restart serves it.
    owned : bool
        Remove *root* on :meth:`close` (a temporary folder).
    """

    def __init__(self, root: Path, current: Path | None, *, persistent: bool, owned: bool) -> None:
        self.root = root
        self.current = current
        self.persistent = persistent
        self.owned = owned
        self._history: list[Path] = [current] if current is not None else []

    @classmethod
    def temporary(cls, current: Path | None = None) -> Graphs:
        """Generations in a new temporary folder (removed on :meth:`close`), starting from *current*."""
        return cls(Path(tempfile.mkdtemp(prefix="kg-graphs-")), current, persistent=False, owned=True)

    @classmethod
    def at(cls, location: Path) -> Graphs:
        """The generations kept in *location* (``kg serve --location``); ``current`` is ``None`` when new."""
        location.mkdir(parents=True, exist_ok=True)
        pointer = location / POINTER
        current: Path | None = None
        if pointer.exists():
            current = location / pointer.read_text(encoding="utf-8").strip()
        elif (location / "CURRENT").exists():  # a pyoxigraph store made before generations
            current = location
        return cls(location, current, persistent=True, owned=False)

    def next_path(self) -> Path:
        """A new, not yet existing folder for the next generation."""
        names = [p.name for p in self.root.glob("gen-*")]
        n = max([int(x.split("-")[1]) for x in names if x.split("-")[1].isdigit()], default=0) + 1
        return self.root / f"gen-{n:06d}"

    def open(self, path: Path | None = None) -> EmbeddedStore:
        """The folder *path* (default: the current one) opened read-only, as an :class:`EmbeddedStore`."""
        folder = path or self.current
        if folder is None:
            raise KGError("no store folder to open yet")
        return EmbeddedStore(ox.Store.read_only(str(folder)), location=folder)

    def commit(self, path: Path) -> None:
        """Serve *path* from now on; record it (``--location``) and delete generations past :data:`KEEP`."""
        if self.persistent:
            tmp = self.root / f".{POINTER}.tmp"
            tmp.write_text(os.path.relpath(path, self.root), encoding="utf-8")
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, self.root / POINTER)
            folder = os.open(self.root, os.O_RDONLY)
            try:
                os.fsync(folder)  # the rename itself is durable before the update is acknowledged
            finally:
                os.close(folder)
        self.current = path
        self._history.append(path)
        while len(self._history) > KEEP:
            old = self._history.pop(0)
            if old.parent == self.root and old != self.root:
                shutil.rmtree(old, ignore_errors=True)

    def discard(self, path: Path) -> None:
        """Remove a generation that was never committed (a failed update or reload)."""
        if path.parent == self.root and path != self.current:
            shutil.rmtree(path, ignore_errors=True)

    def close(self) -> None:
        """Remove the temporary folder (nothing is removed for ``--location``)."""
        if self.owned:
            shutil.rmtree(self.root, ignore_errors=True)


def fingerprint(files: Sequence[Path]) -> str:
    """SHA-256 of the files' absolute paths, sizes and modification times (the cache key)."""
    h = hashlib.sha256(f"pyoxigraph {ox.__version__}\n".encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def cache_folder() -> Path:
    """Where loaded stores are cached: ``$KG_CACHE``, else ``$XDG_CACHE_HOME/jp-funding-kg/stores``."""
    if os.environ.get("KG_CACHE"):
        return Path(os.environ["KG_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "jp-funding-kg" / "stores"


def build(target: Path, files: Sequence[Path], *, timeout: float = 3600.0) -> int:
    """Load Turtle *files* into a new store folder *target* in a child process; return its quads.

    The parse happens in the child, so its memory is returned when it ends. *target* must not
    exist; on failure it is removed and the error names the file, line and column.

    Raises
    ------
    kg.errors.TurtleSyntaxError
        A file does not parse.
    KGError
        The child failed otherwise.
    """
    try:
        proc = subprocess.run([sys.executable, "-P", str(WORKER), "build", str(target), *map(str, files)],
                              capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        shutil.rmtree(target, ignore_errors=True)
        raise KGError(f"loading {len(files)} files took longer than {timeout:g} s") from None
    if proc.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        for f in files:  # name the file and line
            check_syntax(f)
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise KGError(f"cannot load the data files into {target}: {tail[0]}")
    return int(json.loads(proc.stdout)["triples"])


def cached_store(files: Sequence[Path]) -> EmbeddedStore:
    """The store of *files*, from the cache when they are unchanged, else loaded into it once.

    Concurrent servers may build the same entry: each builds in a private folder and renames it
    into place; the loser removes its copy and opens the winner's.
    """
    folder = cache_folder() / fingerprint(files)
    if not (folder / "CURRENT").exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=folder.parent))
        target = tmp / "store"
        try:
            build(target, files)
            with contextlib.suppress(OSError):  # another server won the race: use its folder
                os.rename(target, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    store = EmbeddedStore(ox.Store.read_only(str(folder)), location=folder)
    store.files = list(files)
    return store
