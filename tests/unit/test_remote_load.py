"""How RemoteStore.load cuts files into Graph Store Protocol requests (no server needed)."""

from __future__ import annotations

import pyoxigraph as ox

from kg.store import _batches

TTL = b"""@prefix ex: <http://example.org/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
ex:a ex:p 1 , 2 , 3 .
ex:b ex:list ( ex:x ex:y ex:z ) .
ex:c ex:q [ ex:r [ ex:s "deep" ] ] .
ex:d ex:amount "3500000000"^^xsd:integer .
ex:e ex:q [ ex:r 5 ] .
"""


def _quads() -> list[ox.Quad]:
    return list(ox.parse(TTL, format=ox.RdfFormat.TURTLE))


def _blanks(triples: list[ox.Triple]) -> set[str]:
    return {n.value for t in triples for n in (t.subject, t.object) if isinstance(n, ox.BlankNode)}


def test_every_triple_is_sent_once() -> None:
    quads = _quads()
    sent = [t for _, batch in _batches(quads, 2) for t in batch]
    assert sorted(map(str, sent)) == sorted(str(ox.Triple(q.subject, q.predicate, q.object)) for q in quads)


def test_triples_sharing_a_blank_node_go_in_one_request() -> None:
    batches = [batch for _, batch in _batches(_quads(), 1)]
    seen: dict[str, int] = {}
    for i, batch in enumerate(batches):
        for label in _blanks(batch):
            assert seen.setdefault(label, i) == i, f"blank node {label} split over two requests"
    list_batch = next(b for b in batches if any(t.predicate.value.endswith("#first") for t in b))
    assert sum(t.predicate.value.endswith("#first") for t in list_batch) == 3  # the whole list together
    assert max(len(b) for b in batches if not _blanks(b)) <= 1  # plain triples obey the size


def test_integers_go_as_turtle_numerals() -> None:
    """Virtuoso 7.2 keeps "3500000000"^^xsd:integer as xsd:decimal, a bare numeral as xsd:integer."""
    triples = [t for _, batch in _batches(_quads(), 100) for t in batch]
    body = ox.serialize(triples, format=ox.RdfFormat.TURTLE).decode()
    assert "3500000000" in body and '"3500000000"' not in body
    again = {str(q.object) for q in ox.parse(body.encode(), format=ox.RdfFormat.TURTLE)}
    assert '"3500000000"^^<http://www.w3.org/2001/XMLSchema#integer>' in again


def test_named_graphs_keep_their_graph() -> None:
    nq = b'<http://e/s> <http://e/p> "o" <http://e/g> .\n<http://e/s> <http://e/p> "d" .\n'
    out = {str(g): len(b) for g, b in _batches(ox.parse(nq, format=ox.RdfFormat.N_QUADS), 10)}
    assert out == {"<http://e/g>": 1, "DEFAULT": 1}
