"""Linked data: every ``https://w3id.org/jp-funding/id/…`` IRI at ``/id/…``, and the ontology at ``/ont``.

``/id/{path}`` answers HTML to browsers (the resource's triples with links and ja/en labels, and
what links to it) and Turtle, N-Triples, JSON-LD or RDF/XML by ``Accept`` (or ``?format=ttl|nt|
jsonld|rdf``): a DESCRIBE-like CONSTRUCT of the subject's triples plus the labels of its objects.
An IRI with no triples is 404. ``/ont`` serves ``ontology/jf.ttl`` + ``vocab.ttl`` the same way,
with an HTML page documenting classes, properties and concepts.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import pyoxigraph as ox
from fastapi import APIRouter, Query, Request, Response
from rdflib import URIRef

from kg.load import ID, PREFIXES
from kg.store import inject_values
from server.data import local_path
from server.engine import compact_name as compact
from server.engine import serialize_graph
from server.errors import ApiError
from server.negotiation import FORMAT_ALIASES, GRAPH_TYPES, HTML, content_type, negotiate
from server.state import Ontology, get_state

__all__ = ["describe_query", "router", "term_view"]

router = APIRouter(tags=["Linked data"])

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
OWL = "http://www.w3.org/2002/07/owl#"
LABELS = (RDFS + "label", SKOS + "prefLabel")
PAGE_TYPES = [*GRAPH_TYPES, HTML]
"""Linked-data pages: the graph table (Turtle is the default, also for ``*/*``), then HTML, which
browsers get because they name ``text/html`` with a higher q than ``*/*``."""

_PATH = re.compile(r"[A-Za-z0-9._~%!$&'()*+,;=:@/-]+")

_DESCRIBE = """PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
CONSTRUCT {
  ?s ?p ?o .
  ?o rdfs:label ?label .
  ?o skos:prefLabel ?pref .
  ?o ?bp ?bo .
} WHERE {
  ?s ?p ?o .
  OPTIONAL { ?o rdfs:label ?label }
  OPTIONAL { ?o skos:prefLabel ?pref }
  OPTIONAL { ?o ?bp ?bo FILTER (isBlank(?o)) }
}
"""

_INCOMING = """PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?s ?p ?label_ja ?label_en WHERE {
  ?s ?p ?o .
  OPTIONAL { ?s rdfs:label ?label_ja FILTER (LANG(?label_ja) = "ja") }
  OPTIONAL { ?s rdfs:label ?label_en FILTER (LANG(?label_en) = "en") }
}
ORDER BY ?p ?s
LIMIT 500
"""


def describe_query(iri: str) -> str:
    """The CONSTRUCT query answering ``/id/…`` for *iri* (bound with ``VALUES``)."""
    return inject_values(_DESCRIBE, {"s": URIRef(iri)})


def _choose(request: Request, fmt: str | None, offered: list[str]) -> str:
    if fmt is not None:
        media = FORMAT_ALIASES.get(fmt.lower(), fmt.lower())
        if media not in offered:
            names = sorted(k for k, v in FORMAT_ALIASES.items() if v in offered)
            raise ApiError(400, f"format {fmt!r} is not offered here; use one of {', '.join(names)} or an Accept header")
        return media
    return negotiate(request.headers.get("accept"), offered)


def _literal_text(term: ox.Literal) -> dict[str, Any]:
    dt = term.datatype.value if term.datatype is not None else None
    shown_dt = None if term.language or dt in (None, "http://www.w3.org/2001/XMLSchema#string") else compact(dt)
    return {"kind": "literal", "text": term.value, "lang": term.language, "datatype": shown_dt}


def term_view(term: object, labels: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    """How a pyoxigraph term is shown on a page: text, link and ja/en labels (``None``: unbound)."""
    if term is None:
        return {"kind": "none", "text": ""}
    if isinstance(term, ox.Literal):
        return _literal_text(term)
    if isinstance(term, ox.BlankNode):
        return {"kind": "bnode", "text": f"_:{term.value}"}
    if not isinstance(term, ox.NamedNode):  # an RDF-star quoted triple
        return {"kind": "triple", "text": str(term)}
    iri = term.value
    lab = (labels or {}).get(iri, {})
    path = local_path(iri)
    # javascript:, data:, … IRIs are shown, never links
    href: str | None = path if path.startswith(("/", "http://", "https://")) else None
    return {"kind": "iri", "iri": iri, "text": compact(iri), "href": href,
            "label_ja": lab.get("ja"), "label_en": lab.get("en")}


def _labels(triples: Iterable[ox.Triple], extra: dict[str, dict[str, str]] | None = None) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for iri, langs in (extra or {}).items():
        out[iri].update(langs)
    for t in triples:
        if t.predicate.value in LABELS and isinstance(t.object, ox.Literal) and isinstance(t.subject, ox.NamedNode):
            lang = t.object.language or ""
            # rdfs:label wins over skos:prefLabel
            if lang not in out[t.subject.value] or t.predicate.value == LABELS[0]:
                out[t.subject.value][lang] = t.object.value
    return out


def ontology_labels(ontology: Ontology) -> dict[str, dict[str, str]]:
    """Labels of the ontology's terms, by IRI and language."""
    return _labels(ontology.triples)


@router.get(
    "/id/{path:path}",
    name="resource",
    summary="A resource of the graph (HTML, Turtle, N-Triples, JSON-LD or RDF/XML)",
    responses={
        200: {"content": {t: {} for t in PAGE_TYPES}},
        404: {"description": "The IRI has no triples"},
        406: {"description": "No supported type is acceptable"},
    },
)
async def resource(request: Request, path: str,
                   format: str | None = Query(None, description="ttl, nt, jsonld, rdf or html; overrides Accept")) -> Response:
    """Everything the graph says about ``https://w3id.org/jp-funding/id/{path}``."""
    state = get_state(request)
    iri = ID + path
    media = _choose(request, format, PAGE_TYPES)
    if not _PATH.fullmatch(path):
        raise ApiError(404, f"{iri!r} is not an IRI of this dataset")
    outcome = await state.runner.query(describe_query(iri), truncate=False)
    triples = outcome.triples()
    own = [t for t in triples if isinstance(t.subject, ox.NamedNode) and t.subject.value == iri]
    if not own:
        raise ApiError(404, f"the graph has no triples about <{iri}>; search programs at /search or browse from /")
    headers = {"Vary": "Accept", "Link": f'<{iri}>; rel="canonical"'}
    if media != HTML:
        return Response(serialize_graph(triples, media, first=iri), media_type=content_type(media), headers=headers)

    incoming = await state.runner.query(inject_values(_INCOMING, {"o": URIRef(iri)}), truncate=False)
    names, rows = incoming.table()
    labels = _labels(triples, ontology_labels(state.ontology))
    for row in rows:
        r = dict(zip(names, row))
        s = r["s"]
        if isinstance(s, ox.NamedNode):
            for key, lang in (("label_ja", "ja"), ("label_en", "en")):
                label = r[key]
                if isinstance(label, ox.Literal):
                    labels[s.value].setdefault(lang, label.value)
    by_predicate: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for t in own:
        by_predicate[t.predicate.value].append(term_view(t.object, labels))
    ordered = sorted(by_predicate, key=lambda p: (p != RDF_TYPE, p not in LABELS, compact(p)))
    properties: list[dict[str, Any]] = [{"predicate": term_view(ox.NamedNode(p), labels), "objects": sorted(
        by_predicate[p], key=lambda o: (o.get("lang") or "", o["text"]))} for p in ordered]
    back = [{"subject": term_view(dict(zip(names, row))["s"], labels),
             "predicate": term_view(dict(zip(names, row))["p"], labels)} for row in rows]
    context: dict[str, Any] = {
        "iri": iri,
        "compact": compact(iri),
        "label_ja": labels.get(iri, {}).get("ja"),
        "label_en": labels.get(iri, {}).get("en"),
        "types": [o for p in properties if p["predicate"]["iri"] == RDF_TYPE for o in p["objects"]],
        "properties": properties,
        "incoming": back,
        "page": local_path(iri) if local_path(iri) != f"/id/{path}" else None,
        "formats": [("Turtle", "ttl"), ("JSON-LD", "jsonld"), ("N-Triples", "nt"), ("RDF/XML", "rdf")],
    }
    return state.templates.TemplateResponse(request, "resource.html", context, headers=headers)


# ---------------------------------------------------------------- ontology

def _ontology_doc(ontology: Ontology) -> dict[str, Any]:
    props: dict[str, dict[str, list[object]]] = defaultdict(lambda: defaultdict(list))
    for t in ontology.triples:
        if isinstance(t.subject, ox.NamedNode):
            props[t.subject.value][t.predicate.value].append(t.object)
    labels = ontology_labels(ontology)

    def text(values: list[Any], lang: str) -> str | None:
        return next((v.value for v in values if isinstance(v, ox.Literal) and v.language == lang), None)

    def entry(iri: str) -> dict[str, Any]:
        p = props[iri]
        refs = {
            name: [term_view(v, labels) for v in p.get(pred, []) if isinstance(v, ox.NamedNode)]
            for name, pred in (("super", RDFS + "subClassOf"), ("super_property", RDFS + "subPropertyOf"),
                               ("domain", RDFS + "domain"), ("range", RDFS + "range"),
                               ("scheme", SKOS + "inScheme"))
        }
        local = iri.split("#")[-1] if "#" in iri else iri.rstrip("/").split("/")[-1]
        return {
            "iri": iri,
            "compact": compact(iri),
            "anchor": local if iri.startswith(PREFIXES["jf"]) else compact(iri).replace(":", "-"),
            "label_ja": text(p.get(RDFS + "label", []), "ja") or text(p.get(SKOS + "prefLabel", []), "ja"),
            "label_en": text(p.get(RDFS + "label", []), "en") or text(p.get(SKOS + "prefLabel", []), "en"),
            "comment_ja": text(p.get(RDFS + "comment", []), "ja") or text(p.get(SKOS + "definition", []), "ja"),
            "comment_en": text(p.get(RDFS + "comment", []), "en") or text(p.get(SKOS + "definition", []), "en"),
            **refs,
        }

    def typed(*kinds: str) -> list[dict[str, Any]]:
        wanted = set(kinds)
        return [entry(i) for i in sorted(props) if any(
            isinstance(t, ox.NamedNode) and t.value in wanted for t in props[i].get(RDF_TYPE, []))]

    header = next((entry(i) for i in props if any(
        isinstance(t, ox.NamedNode) and t.value == OWL + "Ontology" for t in props[i].get(RDF_TYPE, []))), None)
    version = None
    if header is not None:
        version = next((v.value for v in props[header["iri"]].get(OWL + "versionInfo", [])
                        if isinstance(v, ox.Literal)), None)
    concepts = [entry(i) for i in sorted(props) if props[i].get(SKOS + "inScheme")]
    return {
        "header": header,
        "version": version,
        "classes": typed(OWL + "Class"),
        "object_properties": typed(OWL + "ObjectProperty"),
        "datatype_properties": typed(OWL + "DatatypeProperty"),
        "schemes": typed(SKOS + "ConceptScheme"),
        "concepts": concepts,
        "files": [f.name for f in ontology.files],
    }


@router.get(
    "/ont",
    name="ontology",
    summary="The ontology (Turtle etc.) or its documentation page (HTML)",
    responses={200: {"content": {t: {} for t in PAGE_TYPES}}, 406: {"description": "No supported type"}},
)
def ontology(request: Request,
             format: str | None = Query(None, description="ttl, nt, jsonld, rdf or html; overrides Accept")) -> Response:
    """``ontology/jf.ttl`` and ``vocab.ttl`` merged; HTML documentation for browsers."""
    state = get_state(request)
    media = _choose(request, format, PAGE_TYPES)
    if media != HTML:
        return Response(serialize_graph(state.ontology.triples, media, first=PREFIXES["jf"].rstrip("#")), media_type=content_type(media),
                        headers={"Vary": "Accept"})
    return state.templates.TemplateResponse(request, "ontology.html", _ontology_doc(state.ontology),
                                            headers={"Vary": "Accept"})
