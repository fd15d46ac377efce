"""One program's scheme in a chosen format (SVG, PNG, DOT, Mermaid)."""

from __future__ import annotations

from kg.diagrams.data import _Data, _load, _resolve
from kg.diagrams.dot import _dot, _pipe
from kg.diagrams.mermaid import _mermaid
from kg.diagrams.style import PROGRAM_FORMATS
from kg.errors import UnknownFormat
from kg.store import Store


def _render(data: _Data, iri: str, fmt: str) -> bytes:
    if fmt == "dot":
        return _dot(data, iri).encode()
    if fmt == "mermaid":
        return _mermaid(data, iri).encode()
    return _pipe(_dot(data, iri, dpi=150 if fmt == "png" else None), fmt)


def render_program(store: Store, program: str, *, fmt: str) -> bytes:
    """One program's scheme as SVG, PNG, DOT or Mermaid.

    Parameters
    ----------
    store : Store
        Where the program is.
    program : str
        ``program:<slug>``, a full IRI or a bare slug.
    fmt : {'svg', 'png', 'dot', 'mermaid'}
        SVG and PNG run Graphviz's ``dot`` binary (PNG at 150 dpi); DOT and Mermaid are UTF-8 text.

    Returns
    -------
    bytes

    Raises
    ------
    UnknownFormat
        *fmt* is not one of :data:`PROGRAM_FORMATS`.
    UnknownName
        No such program.
    graphviz.ExecutableNotFound
        SVG or PNG asked for, but the ``dot`` binary is not installed (``apt-get install graphviz``).

    Examples
    --------
    >>> from kg.store import EmbeddedStore
    >>> render_program(EmbeddedStore.from_paths(), "program:go-tech-r7", fmt="dot")[:7]
    b'digraph'
    >>> render_program(EmbeddedStore.from_paths(), "program:go-tech-r7", fmt="pdf")
    Traceback (most recent call last):
    ...
    kg.errors.UnknownFormat: unknown format 'pdf'; supported: svg, png, dot, mermaid
    """
    if fmt not in PROGRAM_FORMATS:
        raise UnknownFormat(fmt, PROGRAM_FORMATS)
    data = _load(store)
    return _render(data, _resolve(data, program), fmt)
