"""The data, parsed by Oxigraph into a store, with the literals as they were written.

Oxigraph stores some typed literals in a canonical form: ``"01"^^xsd:integer`` comes back as
``"1"``, ``"1.0"^^xsd:decimal`` as ``"1"``, and ``"3"^^xsd:byte`` as ``"3"^^xsd:integer``. SHACL
checks literals as written (``sh:datatype xsd:byte``, ``sh:pattern``, ``sh:minLength`` …) and
reports them as written, so while the store loads each file (in Rust, without the interpreter
lock), a thread reads the same file with :func:`pyoxigraph.parse` and notes every literal the
store would rewrite: :attr:`Dataset.originals` maps the stored triple back to what the file said.
The engine makes every rewritten value a candidate of its value checks and decides it on the
original. When two literals the files keep apart collapse into one stored triple (``"1"`` and
``"01"`` of one property on one subject), counts could be wrong: :attr:`Dataset.collisions` is
then true and the engine hands the run to pySHACL.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyoxigraph as ox
import rdflib
from rdflib.namespace import RDF, RDFS, XSD
from rdflib.term import BNode, Literal, Node, URIRef

from kg.errors import KGError
from kg.load import check_syntax

__all__ = ["SHAPES_GRAPH", "Dataset", "Term", "from_ox"]

SHAPES_GRAPH = "urn:x-kg:shapes-graph"
"""The named graph holding the shapes graph, for ``sh:sparql`` queries that read ``$shapesGraph``."""

Term = ox.NamedNode | ox.BlankNode | ox.Literal
_OX_TYPE = ox.NamedNode(str(RDF.type))
_OX_SUBCLASS = ox.NamedNode(str(RDFS.subClassOf))
_STRING, _LANG = ox.NamedNode(str(XSD.string)), ox.NamedNode(str(RDF.langString))
_CANONICAL = {
    # lexical forms the store keeps as they are (anything else is checked by a round trip)
    ox.NamedNode(str(XSD.integer)): re.compile(r"(0|-?[1-9][0-9]*)\Z"),
    ox.NamedNode(str(XSD.decimal)): re.compile(r"-?(0|[1-9][0-9]*)\.[0-9]*[1-9]\Z"),
    ox.NamedNode(str(XSD.boolean)): re.compile(r"(true|false)\Z"),
    ox.NamedNode(str(XSD.gYear)): re.compile(r"[0-9]{4}\Z"),
    ox.NamedNode(str(XSD.date)): re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z"),
}


def from_ox(term: Term) -> Node:
    """An Oxigraph term as rdflib reads it from Turtle (an ``xsd:string`` literal is a plain one)."""
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if term.language:
        return Literal(term.value, lang=term.language)
    if term.datatype == _STRING:
        return Literal(term.value)
    return Literal(term.value, datatype=URIRef(term.datatype.value), normalize=False)


_DATASET_FORMATS = {".nq": ox.RdfFormat.N_QUADS, ".trig": ox.RdfFormat.TRIG}


def _to_ox(node: Node) -> Term:
    if isinstance(node, URIRef):
        return ox.NamedNode(str(node))
    if isinstance(node, BNode):
        return ox.BlankNode(f"s{node}")
    if isinstance(node, Literal):
        if node.language:
            return ox.Literal(str(node), language=node.language)
        return ox.Literal(str(node), datatype=ox.NamedNode(str(node.datatype or XSD.string)))
    raise KGError(f"unexpected term in the shapes graph: {node!r}")


class Dataset:
    """Turtle files parsed by Oxigraph, each into a named graph of its own.

    Parameters
    ----------
    files : sequence of path-like
        Files in load order (the first file describing a node is its origin).

    Raises
    ------
    kg.errors.TurtleSyntaxError
        A file does not parse (with its line and column).
    """

    def __init__(self, files: Sequence[Path | str]) -> None:
        self.files = [Path(f) for f in files]
        self.store = ox.Store()
        self.graphs: list[ox.NamedNode] = []
        self.sizes: dict[ox.NamedNode, int] = {}
        self.originals: dict[tuple[Term, ox.NamedNode, ox.Literal], list[ox.Literal]] = {}
        """Stored ``(subject, predicate, literal)`` → the literals the files wrote (only rewritten ones)."""
        self.rewritten: dict[ox.Literal, list[ox.Literal]] = {}
        """A stored literal → the literals written in the files that the store rewrote to it."""
        self.collisions = False
        """Two literals the files keep apart are one triple in the store."""
        self.shapes_loaded = False
        uncertain: list[tuple[Term, ox.NamedNode, ox.Literal]] = []
        seen: set[ox.Literal] = set()
        for f in self.files:
            graph = ox.NamedNode(f.resolve().as_uri())
            if graph in self.sizes:  # the same file twice adds nothing
                continue
            before = len(self.store)
            fmt = _DATASET_FORMATS.get(f.suffix.lower(), ox.RdfFormat.TURTLE)
            known = set(self.store.named_graphs()) if fmt != ox.RdfFormat.TURTLE else set()
            scan = threading.Thread(target=self._scan, args=(f, graph.value, uncertain, seen, fmt))
            scan.start()
            try:
                if fmt == ox.RdfFormat.TURTLE:
                    self.store.load(path=str(f), format=fmt, base_iri=graph.value, to_graph=graph)
                else:  # a dataset (kg import rs): its one named graph stands for the file
                    self.store.bulk_load(path=str(f), format=fmt, base_iri=graph.value)
            except (SyntaxError, ValueError, OSError):
                scan.join()
                check_syntax(f)  # raises TurtleSyntaxError with file:line:column (or KGError)
                raise
            scan.join()
            if fmt != ox.RdfFormat.TURTLE:
                new = [g for g in self.store.named_graphs() if g not in known]
                if len(new) != 1 or not isinstance(new[0], ox.NamedNode) or any(
                        True for _ in self.store.quads_for_pattern(None, None, None, ox.DefaultGraph())):
                    raise KGError(f"{f}: validate reads a dataset file with exactly one named graph "
                                  f"(as kg import rs writes it); this one has {len(new)}")
                graph = new[0]
            self.graphs.append(graph)
            self.sizes[graph] = len(self.store) - before
        self._rank: dict[object, int] = {g: i for i, g in enumerate(self.graphs)}
        self._round_trip(uncertain, seen)

    @staticmethod
    def _scan(path: Path, base: str, uncertain: list[tuple[Term, ox.NamedNode, ox.Literal]],
              seen: set[ox.Literal], fmt: ox.RdfFormat = ox.RdfFormat.TURTLE) -> None:
        try:
            for t in ox.parse(path=str(path), format=fmt, base_iri=base):
                o = t.object
                if type(o) is not ox.Literal:
                    continue
                dt = o.datatype
                if dt == _STRING or dt == _LANG:
                    continue
                seen.add(o)
                rule = _CANONICAL.get(dt)
                if rule is None or not rule.match(o.value):
                    uncertain.append((t.subject, t.predicate, o))  # type: ignore[arg-type]
        except (SyntaxError, ValueError, OSError):
            return  # the store's load reports the error

    def _round_trip(self, uncertain: list[tuple[Term, ox.NamedNode, ox.Literal]], seen: set[ox.Literal]) -> None:
        """Find which of the *uncertain* literals the store rewrites (one scratch store for all)."""
        distinct = list(dict.fromkeys(o for _, _, o in uncertain))
        if not distinct:
            return
        scratch = ox.Store()
        p = ox.NamedNode("urn:x-kg:value")
        scratch.bulk_extend(ox.Quad(ox.NamedNode(f"urn:x-kg:{i}"), p, o) for i, o in enumerate(distinct))
        stored: dict[ox.Literal, ox.Literal] = {}
        for q in scratch.quads_for_pattern(None, p, None, None):
            original = distinct[int(str(q.subject).strip("<>").rsplit(":", 1)[1])]
            if q.object != original:
                stored[original] = q.object  # type: ignore[assignment]
        for s, pred, o in uncertain:
            to = stored.get(o)
            if to is None:
                continue
            key = (s, pred, to)
            found = self.originals.setdefault(key, [])
            if o not in found:
                found.append(o)
            if len(found) > 1 or to in seen:
                self.collisions = True
            rewritten = self.rewritten.setdefault(to, [])
            if o not in rewritten:
                rewritten.append(o)

    def note_literals(self, literals: list[ox.Literal]) -> None:
        """Also map back literals of the shapes graph that become values here (``sh:targetNode "4.0"``)."""
        before = self.collisions
        self._round_trip([(ox.NamedNode("urn:x-kg:shapes"), ox.NamedNode("urn:x-kg:target"), o) for o in literals],
                         set())
        self.collisions = before

    def original(self, focus: Term | None, predicate: Node | None, term: Term) -> list[Term]:
        """The literals written in the files that are *term* in the store (*term* itself if not rewritten)."""
        if not isinstance(term, ox.Literal) or term not in self.rewritten:
            return [term]
        if focus is not None and isinstance(predicate, URIRef):
            found = self.originals.get((focus, ox.NamedNode(str(predicate)), term))
            if found:
                return list(found)
        return list(self.rewritten[term])

    def add_shapes(self, shapes: rdflib.Graph) -> None:
        """Load the shapes graph as the named graph :data:`SHAPES_GRAPH` (queries then name the data graphs)."""
        if self.shapes_loaded:
            return
        g = ox.NamedNode(SHAPES_GRAPH)
        self.store.bulk_extend(ox.Quad(_to_ox(s), _to_ox(p), _to_ox(o), g) for s, p, o in shapes)  # type: ignore[arg-type]
        self.shapes_loaded = True

    def query(self, sparql: str) -> ox.QuerySolutions:
        """Run a SELECT on the union of the files."""
        if self.shapes_loaded:
            graphs: list[ox.NamedNode | ox.BlankNode | ox.DefaultGraph] = list(self.graphs)
            result = self.store.query(sparql, default_graph=graphs, named_graphs=[ox.NamedNode(SHAPES_GRAPH)])
        else:
            result = self.store.query(sparql, use_default_graph_as_union=True)
        if not isinstance(result, ox.QuerySolutions):
            raise KGError("expected a SELECT query")
        return result

    def triples(self) -> int:
        """Distinct triples over all files (a triple stated in two files counts once)."""
        total = sum(self.sizes.values())  # not the shapes graph (see add_shapes)
        order = sorted(self.graphs, key=lambda g: -self.sizes[g])
        rank: dict[object, int] = {g: i for i, g in enumerate(order)}
        duplicates = 0
        for g in order[1:]:  # every graph but the largest: is the triple in a larger one too?
            for q in self.store.quads_for_pattern(None, None, None, g):
                for other in self.store.quads_for_pattern(q.subject, q.predicate, q.object, None):
                    if rank[other.graph_name] < rank[g]:
                        duplicates += 1
                        break
        return total - duplicates

    def origin(self, term: Term) -> Path | None:
        """The first file (in load order) with *term* as a subject."""
        if isinstance(term, ox.Literal):
            return None
        best: int | None = None
        for q in self.store.quads_for_pattern(term, None, None, None):
            r = self._rank.get(q.graph_name)
            if r is not None and (best is None or r < best):
                best = r
        return self.files[best] if best is not None else None

    def is_instance(self, term: Term, cls: str) -> bool:
        """``term rdf:type/rdfs:subClassOf* cls`` in the data (pySHACL's ``sh:class`` test)."""
        if isinstance(term, ox.Literal):
            return False
        seen: set[str] = set()
        todo = [q.object for q in self.store.quads_for_pattern(term, _OX_TYPE, None, None)]
        while todo:
            c = todo.pop()
            if not isinstance(c, ox.NamedNode | ox.BlankNode) or str(c) in seen:
                continue
            if isinstance(c, ox.NamedNode) and c.value == cls:
                return True
            seen.add(str(c))
            todo.extend(q.object for q in self.store.quads_for_pattern(c, _OX_SUBCLASS, None, None))
        return False

    def describe(self, nodes: list[Node], into: rdflib.Graph) -> None:
        """Copy into *into* the triples that describe the blank nodes of *nodes*, recursively."""
        todo = [n for n in nodes if isinstance(n, BNode)]
        seen: set[Node] = set()
        while todo:
            n = todo.pop()
            if n in seen:
                continue
            seen.add(n)
            for s, p, o in self._triples(ox.BlankNode(str(n))):
                into.add((s, p, o))
                if isinstance(o, BNode):
                    todo.append(o)

    def _triples(self, subject: ox.BlankNode) -> Iterator[tuple[Node, Node, Node]]:
        for q in self.store.quads_for_pattern(subject, None, None, None):
            if isinstance(q.object, ox.Triple):
                continue  # RDF-star terms are not in Turtle files
            for o in self.original(subject, from_ox(q.predicate), q.object):
                yield from_ox(subject), from_ox(q.predicate), from_ox(o)
