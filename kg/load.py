"""Find and parse the Turtle files of the graph.

Data flows one way: Turtle files → :func:`load` → a store or a validator. Each file is parsed
on its own into a fresh graph and only merged once it parsed cleanly, so a broken file never
leaves a half-loaded graph behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph
import rdflib
from rdflib.term import Node

from kg.errors import KGError, TurtleSyntaxError

__all__ = [
    "Loaded",
    "check_syntax",
    "data_sources",
    "expand",
    "load",
    "ontology_sources",
    "parse",
    "project_root",
    "shapes_sources",
]

SHAPES_PREFIX = "shapes"

ID = "https://w3id.org/jp-funding/id/"
PREFIXES: dict[str, str] = {
    "jf": "https://w3id.org/jp-funding/ont#",
    "org": "http://www.w3.org/ns/org#",
    "prov": "http://www.w3.org/ns/prov#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    **{name: f"{ID}{name}/" for name in (
        "actor", "budget", "cap", "category", "flow", "instrument", "program", "rate", "source", "target", "unit")},
    "orgs": f"{ID}org/",
    **{name: f"{ID}{name}/" for name in ("comparator", "fact", "horizon")},
    "deadline": f"{ID}deadline-kind/",
    "eligibility": f"{ID}eligibility-kind/",
}
"""Prefixes used in every file of the project, for readable output."""


def project_root() -> Path:
    """Return the folder holding ``ontology/`` and ``graph_data/``.

    ``KG_ROOT`` overrides it; otherwise the checkout this package lives in.

    Examples
    --------
    >>> (project_root() / "ontology").is_dir()
    True
    """
    env = os.environ.get("KG_ROOT")
    return Path(env) if env else Path(__file__).resolve().parent.parent


def ontology_sources() -> list[Path]:
    """Return the ontology and vocabulary files (not the shapes), sorted."""
    return sorted(p for p in (project_root() / "ontology").glob("*.ttl") if not p.name.startswith(SHAPES_PREFIX))


def shapes_sources() -> list[Path]:
    """Return the SHACL shapes files, sorted."""
    return sorted((project_root() / "ontology").glob(f"{SHAPES_PREFIX}*.ttl"))


def data_sources() -> list[Path]:
    """Return every Turtle file under ``graph_data/``, sorted."""
    return expand([project_root() / "graph_data"])


def expand(paths: Iterable[Path | str]) -> list[Path]:
    """Expand folders to the ``.ttl`` files below them.

    Parameters
    ----------
    paths : iterable of path-like
        Files or folders.

    Returns
    -------
    list of Path
        Files in the order given, each folder's files sorted.

    Raises
    ------
    KGError
        If a path does not exist.
    """
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(sorted(p.rglob("*.ttl")))
        elif p.is_file():
            out.append(p)
        else:
            raise KGError(f"{p}: no such file or folder")
    return out


def _read(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KGError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TurtleSyntaxError(path, line, None, "not valid UTF-8; save the file as UTF-8") from exc
    return data


def check_syntax(path: Path | str) -> None:
    """Raise :class:`TurtleSyntaxError` with line and column if *path* is not valid Turtle.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.ttl"
    >>> _ = p.write_text("@prefix ex: <http://e/> .\\nex:a jfx:b ex:c .\\n")
    >>> check_syntax(p)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kg.errors.TurtleSyntaxError: ...x.ttl:2:6: The prefix jfx: has not been declared
    """
    path = Path(path)
    data = _read(path)
    try:
        fmt = {".nq": pyoxigraph.RdfFormat.N_QUADS, ".trig": pyoxigraph.RdfFormat.TRIG,
               ".nt": pyoxigraph.RdfFormat.N_TRIPLES}.get(path.suffix.lower(), pyoxigraph.RdfFormat.TURTLE)
        for _ in pyoxigraph.parse(data, format=fmt, base_iri=path.resolve().as_uri()):
            pass
    except SyntaxError as exc:
        detail = str(exc.msg if hasattr(exc, "msg") else exc)
        # pyoxigraph: "Parser error at line 4 between columns 6 and 11: message"
        message = detail.split(": ", 1)[1] if detail.startswith("Parser error") and ": " in detail else detail
        raise TurtleSyntaxError(path, exc.lineno, exc.offset, message) from None


def parse(path: Path | str) -> rdflib.Graph:
    """Parse one Turtle file into a new :class:`rdflib.Graph`.

    Raises
    ------
    TurtleSyntaxError
        With the file, line and column of the first error.
    """
    path = Path(path)
    check_syntax(path)
    g = rdflib.Graph()
    g.parse(data=_read(path), format="turtle", publicID=path.resolve().as_uri())
    return g


def _bound(g: rdflib.Graph) -> rdflib.Graph:
    for prefix, ns in PREFIXES.items():
        g.bind(prefix, ns)
    return g


@dataclass
class Loaded:
    """A merged graph and, for each subject, the file it was described in."""

    graph: rdflib.Graph = field(default_factory=lambda: _bound(rdflib.Graph()))
    origins: dict[Node, Path] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    def add(self, path: Path) -> None:
        """Parse *path* and merge it; on error nothing is merged."""
        g = parse(path)
        for s in g.subjects(unique=True):
            self.origins.setdefault(s, path)
        self.graph += g
        self.files.append(path)


def load(paths: Sequence[Path | str] | None = None, *, ontology: bool = True) -> Loaded:
    """Parse the ontology and data files into one graph.

    Parameters
    ----------
    paths : sequence of path-like, optional
        Data files or folders; default ``graph_data/``.
    ontology : bool
        Also load the ontology and vocabularies (not the shapes).

    Returns
    -------
    Loaded

    Raises
    ------
    TurtleSyntaxError
        For the first file that does not parse.
    """
    files = (ontology_sources() if ontology else []) + (expand(paths) if paths else data_sources())
    loaded = Loaded()
    for f in files:
        loaded.add(f)
    return loaded
