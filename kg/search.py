"""Full-text search over everything people name: programs, bodies, units, concepts, queries, recipients.

An embedded SQLite FTS5 index with the ``trigram`` tokenizer (SQLite ≥ 3.34, in Python's standard
library), built once from a store (:meth:`SearchIndex.build`) and then asked per keystroke
(:meth:`SearchIndex.search`) — never a scan of the graph per query. Japanese has no spaces between
words, so trigrams (every run of three characters) find a word anywhere in a title; text is folded
before it is indexed and before it is asked for (:func:`kg.names.fold`: NFKC, lower case, hiragana as
katakana, no spaces or middle dots), so ＪＥＴＲＯ, jetro, ちゅうしょう and チュウショウ, 中小 機構 and 中小機構 all meet.
Queries shorter than three characters fall back to a ``LIKE`` scan of the same table.

Each entry is an :class:`Entry`: an IRI, a kind (``program``, ``body``, ``unit``, ``instrument``,
``category``, ``query``, ``organisation``, ``ministry``), labels to show, and text to match (alternative
labels, abbreviations, sub-measure titles, purpose and target text, rate texts). Importers add their
own entries with :meth:`SearchIndex.add` (recipients by name or corporate number: put the number in
``keys``). The index lives in memory by default, or in a file given as *path*.

Examples
--------
>>> index = SearchIndex()
>>> index.add([Entry("https://example.org/jetro", "body", "独立行政法人日本貿易振興機構",
...                  "Japan External Trade Organization", text="JETRO ジェトロ")])
1
>>> [h.label_ja for h in index.search("ｊｅｔｒｏ")]
['独立行政法人日本貿易振興機構']
>>> [h.label_ja for h in index.search("じぇとろ")]
['独立行政法人日本貿易振興機構']
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kg.errors import KGError
from kg.names import fold
from kg.names import index as name_index
from kg.store import Store, Table

__all__ = ["KINDS", "Entry", "Hit", "SearchIndex", "store_entries"]

KINDS: dict[str, tuple[str, str]] = {
    "program": ("事業", "Programs"),
    "body": ("機関", "Bodies"),
    "organisation": ("支出先・法人", "Organisations (recipients)"),
    "ministry": ("府省庁・部局", "Ministries and bureaus"),
    "unit": ("担当組織", "Responsible units"),
    "instrument": ("資金の手段", "Instruments"),
    "category": ("区分", "Categories"),
    "query": ("名前付きクエリ", "Named queries"),
}
"""Kinds of entries in display order: kind → (Japanese, English) heading."""

_MIN_SQLITE = (3, 34, 0)


@dataclass(frozen=True)
class Entry:
    """One thing people may search for.

    Parameters
    ----------
    iri : str
        The full IRI (pages link to it; it is never shown as text).
    kind : str
        One of :data:`KINDS` (other kinds are accepted and listed after them).
    label_ja, label_en : str
        What a result shows.
    detail : str
        A short line shown under the label (fiscal year and phase, the parent program …).
    text : str
        More text to match: alternative labels, abbreviations, sub-measures, purpose text.
    keys : tuple of str
        Identifiers matched exactly or by prefix (a corporate number, a slug).
    rank : int
        Smaller comes first among equally good matches (e.g. source order).
    """

    iri: str
    kind: str
    label_ja: str
    label_en: str = ""
    detail: str = ""
    text: str = ""
    keys: tuple[str, ...] = ()
    rank: int = 0


@dataclass(frozen=True)
class Hit:
    """A search result: the entry's display fields and where the query matched."""

    iri: str
    kind: str
    label_ja: str
    label_en: str
    detail: str
    matched: str = ""
    score: float = 0.0
    extra: dict[str, str] = field(default_factory=dict, compare=False)


class SearchIndex:
    """An FTS5 trigram index of :class:`Entry` objects.

    Parameters
    ----------
    path : path-like, optional
        A database file (created or reused); default in memory.

    Raises
    ------
    KGError
        SQLite is older than 3.34 (no ``trigram`` tokenizer).
    """

    def __init__(self, path: Path | str | None = None) -> None:
        if sqlite3.sqlite_version_info < _MIN_SQLITE:
            raise KGError(f"search needs SQLite 3.34 or later for the FTS5 trigram tokenizer; this Python has "
                          f"{sqlite3.sqlite_version}: use a newer Python build")
        self.path = str(path) if path is not None else ":memory:"
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.executescript("""
            CREATE TABLE IF NOT EXISTS entry (
                id INTEGER PRIMARY KEY, iri TEXT NOT NULL, kind TEXT NOT NULL, label_ja TEXT NOT NULL,
                label_en TEXT NOT NULL, detail TEXT NOT NULL, keys TEXT NOT NULL, rank INTEGER NOT NULL,
                text TEXT NOT NULL DEFAULT '',
                UNIQUE (kind, iri));
            CREATE TABLE IF NOT EXISTS key (key TEXT NOT NULL, id INTEGER NOT NULL);
            CREATE INDEX IF NOT EXISTS key_key ON key (key);
            CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(name, body, tokenize='trigram');
        """)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM entry").fetchone()[0])

    def add(self, entries: Iterable[Entry]) -> int:
        """Add (or replace, by kind and IRI) *entries*; returns how many were added."""
        n = 0
        with self._db:
            for e in entries:
                old = self._db.execute("SELECT id FROM entry WHERE kind = ? AND iri = ?", (e.kind, e.iri)).fetchone()
                if old is not None:
                    self._db.execute("DELETE FROM entry WHERE id = ?", old)
                    self._db.execute("DELETE FROM fts WHERE rowid = ?", old)
                    self._db.execute("DELETE FROM key WHERE id = ?", old)
                keys = " ".join(fold(k) for k in e.keys)
                cur = self._db.execute(
                    "INSERT INTO entry (iri, kind, label_ja, label_en, detail, keys, rank, text) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (e.iri, e.kind, e.label_ja, e.label_en, e.detail, keys, e.rank, e.text))
                name = fold(f"{e.label_ja} {e.label_en}")
                body = fold(f"{e.text} {e.detail} {keys}")
                self._db.execute("INSERT INTO fts (rowid, name, body) VALUES (?, ?, ?)", (cur.lastrowid, name, body))
                self._db.executemany("INSERT INTO key (key, id) VALUES (?, ?)",
                                     [(k, cur.lastrowid) for k in dict.fromkeys(keys.split())])
                n += 1
        return n

    def search(self, text: str, *, kinds: Sequence[str] | None = None, limit: int = 50) -> list[Hit]:
        """Entries matching *text*, best first: exact keys, then matches in a label, then in other text.

        Parameters
        ----------
        text : str
            What a person typed; folded with :func:`fold`. Several words must all match.
        kinds : sequence of str, optional
            Only these kinds.
        limit : int
            At most this many hits (over all kinds).

        Returns
        -------
        list of Hit
        """
        # control characters (a NUL byte …) mean nothing to a person and SQLite refuses them
        text = "".join(c for c in text if unicodedata.category(c) != "Cc" or c in "\t\n")
        words = [fold(w) for w in unicodedata.normalize("NFKC", text).split()]
        words = [w for w in words if w]
        if not words or limit <= 0:
            return []
        joined = "".join(words)
        kind_sql, kind_args = "", []
        if kinds:
            kind_sql = f" AND e.kind IN ({', '.join('?' * len(kinds))})"
            kind_args = list(kinds)
        exact = self._db.execute(
            "SELECT e.iri, e.kind, e.label_ja, e.label_en, e.detail, e.keys, e.rank, e.label_ja, e.text, -1e9 "
            f"FROM key k JOIN entry e ON e.id = k.id WHERE k.key = ?{kind_sql}", [joined, *kind_args]).fetchall()
        columns = "e.iri, e.kind, e.label_ja, e.label_en, e.detail, e.keys, e.rank, fts.name, e.text"
        first: list[tuple[Any, ...]] = []
        number = bool(exact) and joined.isdigit()  # a corporate number found: nothing more to look for
        if all(len(w) >= 3 for w in words) and not number:
            match = " AND ".join('"' + w.replace('"', '""') + '"' for w in words)
            # labels first, unranked (a common word stops early), then everything, ranked by bm25
            first = self._db.execute(
                f"SELECT {columns}, 0.0 FROM fts JOIN entry e ON e.id = fts.rowid WHERE fts MATCH ?{kind_sql} LIMIT ?",
                ["name : (" + match + ")", *kind_args, limit * 2]).fetchall()
            sql = (f"SELECT {columns}, bm25(fts, 10.0, 1.0) FROM fts JOIN entry e ON e.id = fts.rowid "
                   f"WHERE fts MATCH ?{kind_sql} ORDER BY bm25(fts, 10.0, 1.0)")
            args: list[object] = [match, *kind_args]
        else:
            likes = " AND ".join("(fts.name LIKE ? ESCAPE '\\' OR fts.body LIKE ? ESCAPE '\\')" for _ in words)
            sql = f"SELECT {columns}, 0.0 FROM fts JOIN entry e ON e.id = fts.rowid WHERE {likes}{kind_sql}"
            args = []
            for w in words:
                pattern = "%" + w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                args += [pattern, pattern]
            args += kind_args
        rows = exact + first
        if len(rows) < limit and not number:
            rows += self._db.execute(sql + " LIMIT ?", [*args, max(limit * 4, 200)]).fetchall()
        hits, seen = [], set()
        for iri, kind, ja, en, detail, keys, rank, name, raw, score in rows:
            if (kind, iri) in seen:
                continue
            seen.add((kind, iri))
            key_hit = joined in keys.split()
            name = fold(f"{ja} {en}")
            in_name = all(w in name for w in words)
            order = (0 if key_hit else 1 if fold(ja) == joined or fold(en) == joined else 2 if in_name else 3)
            matched = "" if in_name else _snippet(raw, words[0])
            hits.append((order, round(float(score), 6), int(rank), Hit(iri, kind, ja, en, detail, matched, float(score))))
        hits.sort(key=lambda t: (t[0], t[1], t[2], t[3].label_ja))
        return [h for *_, h in hits[:limit]]

    def grouped(self, text: str, *, kinds: Sequence[str] | None = None,
                limit: int = 50) -> dict[str, list[Hit]]:
        """:meth:`search`, grouped by kind in the order of :data:`KINDS` (empty kinds left out)."""
        groups: dict[str, list[Hit]] = {}
        for h in self.search(text, kinds=kinds, limit=limit):
            groups.setdefault(h.kind, []).append(h)
        order = list(KINDS)
        return dict(sorted(groups.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))

    @classmethod
    def build(cls, store: Store, *, path: Path | str | None = None,
              sources: Iterable[Iterable[Entry]] = ()) -> SearchIndex:
        """An index of everything :func:`store_entries` finds in *store*, plus *sources* (importers' entries)."""
        index = cls(path)
        index.add(store_entries(store))
        for entries in sources:
            index.add(entries)
        return index


def _snippet(text: str, word: str, width: int = 40) -> str:
    """The line of *text* (as written, not folded) in which the folded *word* occurs, cut to about *width*."""
    for line in text.splitlines():
        folded = fold(line)
        i = folded.find(word)
        if i < 0:
            continue
        if len(line) <= width:
            return line.strip()
        start = max(0, min(i, len(line)) - width // 3)
        return ("…" if start else "") + line[start:start + width].strip() + ("…" if start + width < len(line) else "")
    return ""


# ---------------------------------------------------------------- what the store names

_PFX = """PREFIX jf: <https://w3id.org/jp-funding/ont#>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""

_LABELS = _PFX + """
SELECT ?s ?kind (SAMPLE(?ja0) AS ?ja) (SAMPLE(?en0) AS ?en)
       (GROUP_CONCAT(DISTINCT STR(?alt); separator=" ") AS ?alts)
       (SAMPLE(?abbr0) AS ?abbr) (SAMPLE(?line0) AS ?line) WHERE {
  VALUES (?type ?kind) {
    (jf:Program "program") (jf:NamedBody "body") (org:OrganizationalUnit "unit")
    (jf:Instrument "instrument") (jf:ActorCategory "category") (jf:GovernmentOrganization "ministry")
  }
  ?s a ?type .
  OPTIONAL { ?s rdfs:label|skos:prefLabel ?ja0 FILTER (LANG(?ja0) = "ja") }
  OPTIONAL { ?s rdfs:label|skos:prefLabel ?en0 FILTER (LANG(?en0) = "en") }
  OPTIONAL { ?s skos:altLabel|skos:hiddenLabel ?alt }
  OPTIONAL { ?s jf:abbreviation ?abbr0 }
  OPTIONAL { ?s jf:sourceLineStart ?line0 }
}
GROUP BY ?s ?kind
"""

_PROGRAM_TEXTS = [_PFX + q for q in (
    "SELECT ?p ?t WHERE { ?p a jf:Program ; rdfs:comment|jf:budgetLineText ?t }",
    "SELECT ?p ?t WHERE { ?p a jf:Program ; jf:target ?x . ?x jf:targetText ?t }",
    "SELECT ?p ?t WHERE { ?p a jf:Program ; jf:rate ?r . ?r jf:rateText ?t }",
    "SELECT ?p ?t WHERE { ?f jf:ofProgram ?p ; jf:rate ?r . ?r jf:rateText ?t }",
    "SELECT ?p ?t WHERE { ?f jf:ofProgram ?p ; jf:sourceText ?t }",
)]
"""Text that finds a program: notes and budget line, targets, rates (each queried on its own: one
simple pattern per query keeps every one linear in the graph's size)."""

_CHILDREN = _PFX + 'SELECT ?c ?p ?t WHERE { ?c jf:partOf ?p . OPTIONAL { ?c rdfs:label ?t FILTER (LANG(?t) = "ja") } }'

_RECIPIENTS = _PFX + """
SELECT ?s (SAMPLE(?ja0) AS ?ja) (SAMPLE(?en0) AS ?en) (SAMPLE(?n0) AS ?number) (SAMPLE(?t0) AS ?number_text)
       (GROUP_CONCAT(DISTINCT STR(?alt); separator="\\n") AS ?alts) WHERE {
  { ?s a jf:RecipientOrganization } UNION { ?s jf:corporateNumber ?any }
  OPTIONAL { ?s jf:corporateNumber ?n0 }
  OPTIONAL { ?s jf:corporateNumberText ?t0 }
  OPTIONAL { ?s rdfs:label|skos:prefLabel ?ja0 FILTER (LANG(?ja0) = "ja" || LANG(?ja0) = "") }
  OPTIONAL { ?s rdfs:label|skos:prefLabel ?en0 FILTER (LANG(?en0) = "en") }
  OPTIONAL { ?s skos:altLabel ?alt }
}
GROUP BY ?s
"""


def _rows(store: Store, sparql: str) -> list[dict[str, str]]:
    answer = store.query(sparql)
    if not isinstance(answer, Table):  # pragma: no cover - SELECT queries only
        raise TypeError("expected a SELECT answer")
    return [{k: str(v) for k, v in zip(answer.variables, row) if v is not None} for row in answer.rows]


def _program_texts(store: Store) -> dict[str, str]:
    """Each program's searchable text: its own, its sub-measures' titles (all levels), rates as 補助率 …"""
    found: dict[str, list[str]] = {}
    for i, sparql in enumerate(_PROGRAM_TEXTS):
        for r in _rows(store, sparql):
            text = r.get("t", "")
            found.setdefault(r["p"], []).append(f"補助率 {text}" if i in (2, 3) else text)
    parent: dict[str, str] = {}
    for r in _rows(store, _CHILDREN):
        parent.setdefault(r["c"], r["p"])
        if r.get("t"):
            up, seen = r["p"], set()
            while up and up not in seen:  # a sub-measure's title finds every program above it
                seen.add(up)
                found.setdefault(up, []).append(r["t"])
                up = parent.get(up, "")
    return {p: "\n".join(dict.fromkeys(v)) for p, v in found.items()}


def store_entries(store: Store) -> Iterator[Entry]:
    """Entries for what *store* names: programs (with sub-measure, purpose, target and rate text),
    named bodies (abbreviations, alternative labels), units, instruments, actor categories, the
    named queries, the RS import's ministries and bureaus (``jf:GovernmentOrganization``) and
    recipients (``jf:RecipientOrganization`` or any subject with a ``jf:corporateNumber``: by name,
    alternative name or number)."""
    from kg import queries

    names = name_index(store).by_iri
    texts = _program_texts(store)
    for r in _rows(store, _LABELS):
        iri, kind = r["s"], r["kind"]
        detail = ""
        text = "\n".join(x for x in (r.get("alts", ""), r.get("abbr", "")) if x)
        if kind == "program":
            text += "\n" + texts.get(iri, "")
            name = names.get(iri)
            detail = name.phase or "" if name is not None else ""
        yield Entry(iri, kind, r.get("ja") or r.get("en") or plain_local(iri), r.get("en", ""), detail=detail,
                    text=text, keys=(plain_local(iri),), rank=int(r.get("line", "0") or 0))
    for q in queries.all_queries().values():
        yield Entry(f"query:{q.name}", "query", q.title_ja, q.title_en, text=f"{q.name} {q.description}",
                    keys=(q.name,))
    for r in _rows(store, _RECIPIENTS):
        number = r.get("number", "") or r.get("number_text", "")
        yield Entry(r["s"], "organisation", r.get("ja") or r.get("en") or number, r.get("en", ""),
                    detail=f"法人番号 {number}" if number else "", text=r.get("alts", ""),
                    keys=(number,) if number else ())


def plain_local(iri: str) -> str:
    """The last segment of an IRI (a slug), for matching by id.

    Examples
    --------
    >>> plain_local("https://w3id.org/jp-funding/id/org/jetro")
    'jetro'
    """
    return re.split(r"[/#]", iri)[-1] if iri else ""
