"""One name resolver for every command, query parameter, API and form.

People name things the way they read them: ``中小機構``, ``JETRO``, ``Go-Tech``, part of a program's
title, a slug, a prefixed name or a full IRI. :func:`resolve` turns any of these into the one thing
meant, for programs, bodies, units, instruments, categories and (with the RS data) organisations
with a corporate number. A name that matches several things raises
:class:`~kg.errors.AmbiguousName` listing them with their titles and fiscal years; one that matches
nothing raises :class:`~kg.errors.UnknownName` with ranked suggestions, so a typo such as
``中小企業生産性革名`` still points at 中小企業生産性革命推進事業.

Matching folds text first (:func:`fold`: NFKC, case, spaces, hiragana to katakana), then tries, in
order: the IRI (full, ``<…>`` or prefixed), the slug, an exact label, alternative label,
abbreviation or corporate number, then a part of a label. The first step with any hit decides.

Examples
--------
>>> from kg.store import EmbeddedStore
>>> store = EmbeddedStore.from_paths()
>>> resolve(store, "JETRO").iri
'https://w3id.org/jp-funding/id/org/jetro'
>>> resolve(store, "中小機構", kinds=("body",)).label_ja
'独立行政法人中小企業基盤整備機構'
>>> resolve(store, "Go-Tech").kind
'program'
>>> [n.label_ja for n in suggest(store, "中小企業生産性革名", kinds=("program",))][:1]
['中小企業生産性革命推進事業']
"""

from __future__ import annotations

import difflib
import re
import threading
import unicodedata
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from kg.errors import AmbiguousName, UnknownName
from kg.formats import compact
from kg.load import PREFIXES
from kg.store import Store, as_table

__all__ = ["KINDS", "PARAM_KINDS", "Name", "NameIndex", "choices", "fold", "index", "labels", "labels_of",
           "resolve", "suggest"]

KINDS = ("program", "body", "unit", "instrument", "category", "organisation")
"""The kinds of thing a name can stand for, in the order candidates are listed."""

PARAM_KINDS: dict[str, tuple[str, ...]] = {
    "program": ("program",),
    "parent": ("program",),
    "body": ("body", "organisation"),
    "org": ("organisation", "body"),
    "organisation": ("organisation", "body"),
    "organization": ("organisation", "body"),
    "recipient": ("organisation", "body"),
    "ministry": ("body", "organisation", "unit"),
    "unit": ("unit",),
    "instrument": ("instrument",),
    "category": ("category",),
}
"""What a named-query parameter of type ``iri`` names, by the parameter's name."""

_JF = "https://w3id.org/jp-funding/ont#"
_KIND_QUERY = """
PREFIX jf: <https://w3id.org/jp-funding/ont#>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?s ?type ?p ?text WHERE {
  { VALUES ?type { jf:Program jf:NamedBody org:OrganizationalUnit org:Organization } ?s a ?type }
  UNION { ?s skos:inScheme ?scheme BIND (skos:Concept AS ?type) }
  VALUES ?p { rdfs:label skos:prefLabel skos:altLabel jf:abbreviation jf:corporateNumber jf:normalizedName }
  ?s ?p ?text .
}
"""
_PHASE_QUERY = """
PREFIX jf: <https://w3id.org/jp-funding/ont#>
SELECT ?s ?line WHERE { ?s a jf:Program ; jf:partOf* ?top . ?top jf:budgetLineText ?line }
"""
_TYPE_KIND = {
    f"{_JF}Program": "program",
    f"{_JF}NamedBody": "body",
    "http://www.w3.org/ns/org#OrganizationalUnit": "unit",
    "http://www.w3.org/ns/org#Organization": "organisation",
}
_CONCEPT_KIND = {PREFIXES["instrument"]: "instrument", PREFIXES["category"]: "category"}
_EXACT = {"http://www.w3.org/2000/01/rdf-schema#label", "http://www.w3.org/2004/02/skos/core#prefLabel",
          "http://www.w3.org/2004/02/skos/core#altLabel", f"{_JF}abbreviation", f"{_JF}corporateNumber",
          f"{_JF}normalizedName"}
_ERA = {"令和": 2018, "平成": 1988}


def fold(text: str) -> str:
    """Text as matched: NFKC, lower case, no spaces or middle dots, hiragana as katakana.

    Examples
    --------
    >>> fold("ＪＥＴＲＯ　ごー") == fold("jetro ゴー")
    True
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[\s・･]+", "", text)
    return "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text)


def _phase(line: str) -> tuple[str | None, str | None]:
    """(fiscal year, phase) of a budget line such as ``令和6年度補正予算額3,400億円``."""
    m = re.search(r"(令和|平成)\s*(\d+|元)\s*年度\s*(補正予算|予算案|当初予算|予算)?", unicodedata.normalize("NFKC", line))
    if not m:
        return None, None
    n = 1 if m.group(2) == "元" else int(m.group(2))
    kind = {"補正予算": "補正", "予算案": "予算案", "当初予算": "当初", "予算": "当初"}.get(m.group(3) or "", "")
    return str(_ERA[m.group(1)] + n), f"{m.group(1)}{m.group(2)}年度{kind}"


@dataclass(frozen=True)
class Name:
    """One thing a name can stand for."""

    iri: str
    kind: str
    label_ja: str = ""
    label_en: str = ""
    fiscal_year: str | None = None
    phase: str | None = None
    texts: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @property
    def id(self) -> str:
        """The prefixed name (``program:go-tech-r7``), for scripts."""
        return compact(self.iri)

    @property
    def label(self) -> str:
        """The Japanese label, else the English one, else the id."""
        return self.label_ja or self.label_en or self.id

    def __str__(self) -> str:
        extra = f", {self.phase}" if self.phase else ""
        return f"{self.label} [{self.id}{extra}]"


class NameIndex:
    """Every nameable thing of a store with its folded texts; built once, asked many times."""

    def __init__(self, names: Iterable[Name]) -> None:
        self.names = sorted(names, key=lambda n: (KINDS.index(n.kind), n.fiscal_year or "", n.label, n.iri))
        self.by_iri = {n.iri: n for n in self.names}
        self._folded = {n.iri: tuple(dict.fromkeys(fold(t) for t in n.texts if t)) for n in self.names}

    @classmethod
    def build(cls, store: Store) -> NameIndex:
        """Read the names of ``store`` (two queries)."""
        kinds: dict[str, str] = {}
        texts: dict[str, list[str]] = {}
        labels: dict[str, dict[str, str]] = {}
        for s, typ, p, text in as_table(store.query(_KIND_QUERY)).rows:
            iri, t = str(s), str(typ)
            kind = _TYPE_KIND.get(t)
            if kind is None:  # a concept: an instrument or a category, by namespace
                kind = next((k for ns, k in _CONCEPT_KIND.items() if iri.startswith(ns)), None)
                if kind is None:
                    continue
            # a named body is also an organisation; keep the most specific kind
            if iri not in kinds or KINDS.index(kind) < KINDS.index(kinds[iri]):
                kinds[iri] = kind
            if str(p) in _EXACT:
                texts.setdefault(iri, []).append(str(text))
            lang = getattr(text, "language", None)
            if str(p) in ("http://www.w3.org/2000/01/rdf-schema#label", "http://www.w3.org/2004/02/skos/core#prefLabel"):
                slot = labels.setdefault(iri, {})
                key = "en" if lang == "en" else "ja"
                slot.setdefault(key, str(text))
        phases: dict[str, tuple[str | None, str | None]] = {}
        for s, line in as_table(store.query(_PHASE_QUERY)).rows:
            phases.setdefault(str(s), _phase(str(line)))
        return cls(
            Name(iri, kind, labels.get(iri, {}).get("ja", ""), labels.get(iri, {}).get("en", ""),
                 *phases.get(iri, (None, None)), texts=tuple(texts.get(iri, ())))
            for iri, kind in kinds.items()
        )

    def _of(self, kinds: Sequence[str] | None) -> list[Name]:
        return [n for n in self.names if kinds is None or n.kind in kinds]

    def resolve(self, text: str, *, kinds: Sequence[str] | None = None, what: str | None = None) -> Name:
        """The one thing ``text`` names (see the module docstring for the order of the steps).

        Raises
        ------
        AmbiguousName
            Several things match at the first step that matches anything.
        UnknownName
            Nothing matches; the message lists the closest names.
        """
        what = what or (kinds[0] if kinds and len(kinds) == 1 else "name")
        pool = self._of(kinds)
        for step in (self._by_iri, self._by_slug, self._by_text, self._by_part):
            hits = step(text.strip(), pool)
            if len(hits) == 1:
                return hits[0]
            if hits:
                raise AmbiguousName(what, text, hits)
        raise UnknownName(what, text, [str(n) for n in self.suggest(text, kinds=kinds)])

    def _by_iri(self, text: str, pool: list[Name]) -> list[Name]:
        raw = text[1:-1] if text.startswith("<") and text.endswith(">") else text
        m = re.fullmatch(r"([A-Za-z][\w-]*):(\S*)", raw)
        if m and m.group(1) in PREFIXES and not raw.startswith(("http:", "https:")):
            raw = PREFIXES[m.group(1)] + m.group(2)
        return [n for n in pool if n.iri == raw]

    def _by_slug(self, text: str, pool: list[Name]) -> list[Name]:
        return [n for n in pool if re.split(r"[/#]", n.iri)[-1] == text] if text else []

    def _by_text(self, text: str, pool: list[Name]) -> list[Name]:
        key = fold(text)
        return [n for n in pool if key and key in self._folded[n.iri]]

    def _by_part(self, text: str, pool: list[Name]) -> list[Name]:
        key = fold(text)
        if len(key) < 2:
            return []
        return [n for n in pool if any(key in t for t in self._folded[n.iri])]

    def suggest(self, text: str, *, kinds: Sequence[str] | None = None, limit: int = 5) -> list[Name]:
        """The names closest to ``text``, best first (for 'did you mean' and autocomplete)."""
        key = fold(text)
        if not key:
            return []
        scored = []
        for n in self._of(kinds):
            best = 0.0
            for t in (*self._folded[n.iri], fold(n.id)):
                if key in t:
                    best = max(best, 1.0 + len(key) / max(len(t), 1))
                    continue
                best = max(best, _partial_ratio(key, t))
            if best >= 0.5:
                scored.append((-best, n.label, n))
        scored.sort(key=lambda x: (x[0], x[1]))
        return [n for _, _, n in scored[:limit]]


def _partial_ratio(short: str, long: str) -> float:
    """How well ``short`` matches its best window of ``long`` (0 to 1)."""
    if len(short) > len(long):
        short, long = long, short
    if not short:
        return 0.0
    matcher = difflib.SequenceMatcher(None, short, long, autojunk=False)
    best = 0.0
    for block in matcher.get_matching_blocks():
        start = max(0, block.b - block.a)
        window = long[start:start + len(short)]
        best = max(best, difflib.SequenceMatcher(None, short, window, autojunk=False).ratio())
    return best


_CACHE: weakref.WeakKeyDictionary[Store, tuple[int, NameIndex]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def index(store: Store) -> NameIndex:
    """The name index of ``store``, rebuilt when an embedded store's size changes."""
    raw = getattr(store, "raw", None)
    # an in-memory store may grow (len is cheap there); an on-disk one is opened read-only and
    # counting it reads all of it (0.6 s for the national graph), so its stamp is fixed
    on_disk = getattr(store, "location", None) is not None
    stamp = len(raw) if raw is not None and not on_disk else -1
    with _LOCK:
        try:
            cached = _CACHE.get(store)
        except TypeError:  # not weak-referenceable: no cache
            return NameIndex.build(store)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    built = NameIndex.build(store)
    with _LOCK:
        _CACHE[store] = (stamp, built)
    return built


def resolve(store: Store, text: str, *, kinds: Sequence[str] | None = None, what: str | None = None) -> Name:
    """The one thing ``text`` names in ``store``; see :meth:`NameIndex.resolve`."""
    return index(store).resolve(text, kinds=kinds, what=what)


def suggest(store: Store, text: str, *, kinds: Sequence[str] | None = None, limit: int = 10) -> list[Name]:
    """The names of ``store`` closest to ``text``, best first."""
    return index(store).suggest(text, kinds=kinds, limit=limit)


def choices(store: Store, kind: str) -> list[Name]:
    """Every name of one kind, for select lists and autocomplete (sorted by fiscal year and label)."""
    return [n for n in index(store).names if n.kind == kind]


_IRI = re.compile(r"(https?://|urn:)[^\s<>\"{}|^`\\]+")
_LABEL_QUERY = """
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?s ?p ?l WHERE { VALUES ?s { %s } VALUES ?p { skos:prefLabel rdfs:label } ?s ?p ?l }
"""


def labels(store: Store, iris: Iterable[str], *, lang: str = "ja") -> dict[str, str]:
    """The label of each IRI in ``lang`` (falling back to the other language), for people to read.

    IRIs without a label are left out. A program's label gets its budget phase where two programs
    share a title (``充電インフラ… (令和6年度補正)``) so the two can be told apart.

    Examples
    --------
    >>> from kg.store import EmbeddedStore
    >>> store = EmbeddedStore.from_paths()
    >>> labels(store, ["https://w3id.org/jp-funding/ont#SupplementaryBudget"], lang="en")
    {'https://w3id.org/jp-funding/ont#SupplementaryBudget': 'supplementary budget'}
    """
    wanted = sorted({str(i) for i in iris if _IRI.fullmatch(str(i))})
    found: dict[str, dict[str, tuple[int, str]]] = {}
    for start in range(0, len(wanted), 400):
        chunk = " ".join(f"<{i}>" for i in wanted[start:start + 400])
        for s, p, lab in as_table(store.query(_LABEL_QUERY % chunk)).rows:
            lg = getattr(lab, "language", None) or ""
            rank = (0 if lg == lang else 1 if not lg else 2) * 2 + (0 if str(p).endswith("prefLabel") else 1)
            best = found.setdefault(str(s), {}).get("x")
            if best is None or rank < best[0]:
                found[str(s)]["x"] = (rank, str(lab))
    out = {iri: v["x"][1] for iri, v in found.items()}
    ix = index(store)
    seen: dict[str, list[str]] = {}
    for iri, text in out.items():
        n = ix.by_iri.get(iri)
        if n is not None and n.kind == "program":
            seen.setdefault(text, []).append(iri)
    for same in seen.values():
        if len(same) > 1:
            for iri in same:
                phase = ix.by_iri[iri].phase
                if phase:
                    out[iri] = f"{out[iri]} ({phase})"
    return out


def labels_of(store: Store, answer: object, *, lang: str = "ja") -> dict[str, str]:
    """:func:`labels` of every IRI in a query answer (a :class:`~kg.store.Table`); {} for others."""
    rows = getattr(answer, "rows", None)
    if rows is None:
        return {}
    from rdflib import URIRef

    return labels(store, (str(v) for row in rows for v in row if isinstance(v, URIRef)), lang=lang)
