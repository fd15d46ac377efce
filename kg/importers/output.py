"""Write an importer's quads: to a file (never half-written) or into an on-disk store.

Examples
--------
>>> output_format("national.nq"), output_format("x.trig"), output_format("x.ttl")
(<RdfFormat N-Quads>, <RdfFormat TriG>, <RdfFormat Turtle>)
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyoxigraph as ox

from kg.errors import KGError, UnknownFormat

__all__ = ["FORMATS", "bulk_load", "output_format", "write_quads"]

FORMATS = {".nq": ox.RdfFormat.N_QUADS, ".trig": ox.RdfFormat.TRIG, ".ttl": ox.RdfFormat.TURTLE,
           ".nt": ox.RdfFormat.N_TRIPLES}
"""Output formats by file extension. Turtle and N-Triples hold triples only (the graph is dropped)."""

CHUNK = 250_000
"""Quads per bulk-load batch of :func:`bulk_load`."""

PREFIXES = {
    "corp": "https://w3id.org/jp-funding/id/corp/",
    "jf": "https://w3id.org/jp-funding/ont#",
    "org": "http://www.w3.org/ns/org#",
    "program": "https://w3id.org/jp-funding/id/program/",
    "prov": "http://www.w3.org/ns/prov#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}


def output_format(path: str | Path) -> ox.RdfFormat:
    """The RDF format of an output file, by its extension.

    Raises
    ------
    UnknownFormat
        The extension is not one of :data:`FORMATS`.
    """
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise UnknownFormat(f"{path}: output extension {ext or '(none)'}", sorted(FORMATS))
    return FORMATS[ext]


def _counted(quads: Iterable[ox.Quad], counter: list[int]) -> Iterator[ox.Quad]:
    for q in quads:
        counter[0] += 1
        yield q


def _triples(quads: Iterable[ox.Quad], counter: list[int]) -> Iterator[ox.Triple]:
    for q in quads:
        counter[0] += 1
        yield ox.Triple(q.subject, q.predicate, q.object)


def write_quads(quads: Iterable[ox.Quad], path: str | Path) -> int:
    """Serialize *quads* to *path* (format by extension); return the number written.

    The file is written beside *path* under a temporary name and renamed at the end: on any
    error *path* is left as it was.
    """
    path = Path(path)
    fmt = output_format(path)
    counter = [0]
    directory = path.resolve().parent
    if not directory.is_dir():
        raise KGError(f"{path}: the folder {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=directory)
    os.close(fd)
    try:
        data: Iterable[ox.Quad] | Iterable[ox.Triple]
        data = _triples(quads, counter) if fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.N_TRIPLES) else _counted(quads, counter)
        kwargs = {"prefixes": PREFIXES} if fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG) else {}
        ox.serialize(data, tmp, fmt, **kwargs)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return counter[0]


def bulk_load(quads: Iterable[ox.Quad], location: str | Path, *, extra: Iterable[Path] = ()) -> int:
    """Bulk-load *quads* (and the Turtle files *extra*) into a new on-disk store at *location*.

    The store is built in ``LOCATION.partial`` and renamed at the end, so a failed import never
    leaves a half-filled store; *location* must not exist yet (or be an empty folder).
    """
    location = Path(location)
    if location.exists() and (not location.is_dir() or any(location.iterdir())):
        raise KGError(f"{location}: already exists; remove it or choose another --location")
    partial = location.with_name(location.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    counter = [0]
    try:
        location.parent.mkdir(parents=True, exist_ok=True)
        store = ox.Store(str(partial))
    except OSError as exc:
        raise KGError(f"{location}: cannot create the store there: {exc}; choose another --location") from None
    try:
        for f in extra:
            store.bulk_load(path=str(f), format=ox.RdfFormat.TURTLE, base_iri=f.resolve().as_uri())
        # in batches: one bulk_extend (or bulk_load of a file) of all 2.9M quads of RS 2024 peaks
        # at 1.5-1.7 GB; batches of CHUNK quads keep the loader's buffers small
        batch: list[ox.Quad] = []
        for q in _counted(quads, counter):
            batch.append(q)
            if len(batch) >= CHUNK:
                store.bulk_extend(batch)
                batch = []
        if batch:
            store.bulk_extend(batch)
        store.flush()
        del store
        if location.exists():
            location.rmdir()
        os.replace(partial, location)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return counter[0]
