"""The ``kg`` command line.

Exit codes: 0 ok; 1 validation found violations; 2 bad input or usage (unknown query, missing or
ill-typed parameter, unreadable Turtle, unreachable store). Data goes to stdout, diagnostics to
stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from kg import __version__
from kg.errors import KGError, UnknownName
from kg.formats import FORMATS, compact, plain, render
from kg.store import Store, as_table, open_store

__all__ = ["build_parser", "main"]

EXIT_OK, EXIT_VIOLATIONS, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"kg: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


@contextlib.contextmanager
def _progress(message: str) -> Iterator[None]:
    """A spinner on stderr for slow steps, only when stderr is a terminal."""
    if sys.stderr.isatty():
        from rich.console import Console

        with Console(stderr=True).status(message):
            yield
    else:
        yield


def _store(args: argparse.Namespace) -> Store:
    with _progress("loading the graph…"):
        return open_store(getattr(args, "store", None), data=getattr(args, "data", None))


def _params(items: Sequence[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise KGError(f"--param takes NAME=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v
    return out


# ---------------------------------------------------------------- commands

def cmd_validate(args: argparse.Namespace) -> int:
    from kg.validate import validate

    with _progress("validating…"):
        report = validate(args.paths or None, engine=args.engine)
    stream = sys.stdout if not report.conforms else sys.stderr
    if report.results:
        print(report.format(), file=stream)
    else:
        print(f"conforms: 0 violations, 0 warnings in {report.triples} triples", file=sys.stderr)
    return EXIT_OK if report.conforms else EXIT_VIOLATIONS


def cmd_synth(args: argparse.Namespace) -> int:
    from kg import synth

    if args.programs < 1:
        raise KGError(f"--programs must be at least 1, got {args.programs}")
    with _progress(f"writing {args.programs} synthetic programs…"):
        try:
            triples = synth.write(args.output, args.programs, seed=args.seed)
        except OSError as exc:
            raise KGError(f"{args.output}: cannot write: {exc.strerror}") from None
    print(f"wrote {triples} triples ({args.programs} programs, seed {args.seed}) to {args.output}", file=sys.stderr)
    return EXIT_OK


def cmd_query(args: argparse.Namespace) -> int:
    from kg import queries

    q = queries.get(args.name)
    params = _params(args.param)
    q.bind(params)  # check parameters before loading anything
    answer = q.run(_store(args), params)
    sys.stdout.write(render(answer, args.format))
    return EXIT_OK


def cmd_queries(args: argparse.Namespace) -> int:
    from kg import queries

    rows = []
    for q in queries.all_queries().values():
        params = " ".join(f"{p.name}:{p.type}{'' if p.required else '?'}" for p in q.params)
        rows.append({"name": q.name, "params": params, "title_en": q.title_en, "title_ja": q.title_ja,
                     "example": q.example})
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        for r in rows:
            print(f"{r['name']:<18} {r['title_en']}")
            print(f"{'':<18} {r['title_ja']}")
            print(f"{'':<18} params: {r['params'] or '-'}    e.g. {r['example']}")
    return EXIT_OK


def cmd_channels(args: argparse.Namespace) -> int:
    from kg import views
    from kg.queries import to_term

    store = _store(args)
    body = compact(str(to_term(args.body, "iri", name="BODY"))) if args.body else None
    chans = views.channels(store, body)
    if body and not chans:
        known = [c.body for c in views.channels(store)]
        raise UnknownName("intermediary", args.body, difflib.get_close_matches(body, known, 3, 0.3) or known)
    if args.format == "json":
        print(json.dumps([c.__dict__ for c in chans], ensure_ascii=False, indent=2))
        return EXIT_OK
    for c in chans:
        print(f"{c.label_ja} ({c.label_en}) [{c.body}]")
        print(f"  sheets:      {', '.join(c.sheets)}")
        print(f"  programs:    {', '.join(c.programs)}")
        print(f"  from:        {', '.join(c.funders)}  by {', '.join(c.instruments_in)}")
        if c.instruments_out:
            print(f"  passes on:   {', '.join(c.instruments_out)} to {', '.join(c.recipient_categories)}")
        for k, v in c.budgets.items():
            print(f"  budget:      {k:<26} {v:>18,} yen")
        print()
    return EXIT_OK


def _find_program(store: Store, text: str) -> str:
    from kg.queries import to_term

    table = as_table(store.query(
        "PREFIX jf: <https://w3id.org/jp-funding/ont#> SELECT ?p ?l WHERE { ?p a jf:Program ; "
        "<http://www.w3.org/2000/01/rdf-schema#label> ?l }"
    ))
    labels: dict[str, list[str]] = {}
    for p, label in table.rows:
        labels.setdefault(compact(str(p)), []).append(str(label))
    if ":" in text or text.startswith("<"):
        candidate = compact(str(to_term(text, "iri", name="PROGRAM")))
    else:
        candidate = f"program:{text}"
    if candidate in labels:
        return candidate
    hits = [p for p, ls in labels.items() if any(text.lower() in label.lower() for label in ls)]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        tops = sorted(hits)
        raise KGError(f"{text!r} matches {len(hits)} programs; name one: {', '.join(tops[:12])}")
    close = difflib.get_close_matches(candidate, list(labels), n=5, cutoff=0.5)
    raise UnknownName("program", text, close)


def cmd_program(args: argparse.Namespace) -> int:
    from kg import queries

    store = _store(args)
    program = _find_program(store, args.program)
    info = queries.get("programs").run(store)
    chain = queries.get("program-chain").run(store, {"program": program})
    caps = queries.get("caps").run(store, {"program": program})
    targets = queries.get("program-targets").run(store, {"program": program})
    info = as_table(info)
    bound = {"program": queries.to_term(program, "iri")}
    budget = as_table(store.query(
        "PREFIX jf: <https://w3id.org/jp-funding/ont#> SELECT ?fiscal_year ?category ?amount ?approximate "
        "?source_text WHERE { ?program jf:budget ?b . ?b jf:fiscalYear ?fiscal_year ; jf:budgetCategory ?category ;"
        " jf:amount ?amount . OPTIONAL { ?b jf:isApproximate ?approximate } OPTIONAL { ?b jf:sourceText ?source_text }"
        " } ORDER BY ?fiscal_year ?category",
        bindings=bound,
    ))
    units = as_table(store.query(
        "PREFIX jf: <https://w3id.org/jp-funding/ont#> SELECT ?of ?unit (COALESCE(?full, ?short) AS ?label) WHERE {"
        " ?of jf:partOf* ?program ; jf:responsibleUnit ?unit . ?unit <http://www.w3.org/2000/01/rdf-schema#label> ?short"
        " FILTER (LANG(?short) = 'ja') OPTIONAL { ?unit <http://www.w3.org/2004/02/skos/core#altLabel> ?full"
        " FILTER (LANG(?full) = 'ja') } } ORDER BY ?of ?label",
        bindings=bound,
    ))
    me = next(r for r in info.dicts() if plain(r["program"]) == program)
    subs = [r for r in info.dicts() if plain(r["parent"]) == program]
    if args.format == "json":
        doc = {
            "program": program,
            "label_ja": plain(me["label_ja"]),
            "label_en": plain(me["label_en"]),
            "part_of": plain(me["parent"]) or None,
            "lines": [plain(me["line_start"]), plain(me["line_end"])],
            "budgets": json.loads(render(budget, "json")),
            "units": json.loads(render(units, "json")),
            "sub_measures": [plain(r["program"]) for r in subs],
            "flows": json.loads(render(chain, "json")),
            "caps": json.loads(render(caps, "json")),
            "targets": json.loads(render(targets, "json")),
        }
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        return EXIT_OK
    print(f"{plain(me['label_ja'])}\n{plain(me['label_en'])}\n[{program}]  source lines "
          f"{plain(me['line_start'])}–{plain(me['line_end'])}")
    if me["parent"] is not None:
        print(f"part of {plain(me['parent'])}")
    for title, t in (("budgets", budget), ("units", units), ("flows", chain), ("caps", caps), ("targets", targets)):
        if t.rows:  # type: ignore[union-attr]
            print(f"\n{title}:")
            sys.stdout.write(render(t, "table"))
    if subs:
        print("\nsub-measures:")
        for r in subs:
            print(f"  {plain(r['notation'])} {plain(r['label_ja'])} [{plain(r['program'])}]")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from kg import views

    store = _store(args)
    graph = views.unit_program_graph(store) if args.view == "units" else views.to_networkx(store)
    text = views.export(graph, args.format, Path(args.output) if args.output else None)
    if not args.output:
        sys.stdout.write(text + ("" if text.endswith("\n") else "\n"))
    else:
        print(f"wrote {args.output}", file=sys.stderr)
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    store = _store(args)
    table = as_table(store.query(
        "PREFIX jf: <https://w3id.org/jp-funding/ont#> SELECT ?class (COUNT(DISTINCT ?s) AS ?n) WHERE { "
        "VALUES ?class { jf:Program jf:BudgetAmount jf:FundingFlow jf:Rate jf:Cap jf:OutcomeTarget jf:NamedBody "
        "jf:GenericActor <http://www.w3.org/ns/org#OrganizationalUnit> } ?s a ?class } GROUP BY ?class ORDER BY ?class"
    ))
    sheets = as_table(store.query(
        "PREFIX jf: <https://w3id.org/jp-funding/ont#> SELECT (COUNT(DISTINCT ?p) AS ?n) WHERE { ?p jf:budgetLineText ?t }"
    ))
    rows = {plain(c): int(n) for c, n in table.rows}  # type: ignore[arg-type]
    rows["budget sheets"] = int(sheets.rows[0][0])  # type: ignore[arg-type]
    rows["triples"] = store.count()
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        print(store.describe())
        for k, v in rows.items():
            print(f"  {k:<28} {v:>8}")
    return EXIT_OK


def cmd_load(args: argparse.Namespace) -> int:
    from kg.load import data_sources, ontology_sources
    from kg.store import RemoteStore

    store = RemoteStore(args.store)
    files = ontology_sources() + ([Path(p) for p in args.paths] if args.paths else data_sources())
    with _progress(f"loading into {args.store}…"):
        n = store.load(files)
    print(f"loaded {n} triples from {len(files)} files into {args.store}", file=sys.stderr)
    return EXIT_OK


def _write(data: bytes | str, output: str | None) -> None:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if output:
        Path(output).write_bytes(raw)
        print(f"wrote {output}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(raw)
        sys.stdout.flush()


def cmd_diagram(args: argparse.Namespace) -> int:
    from kg import diagrams

    if args.all == (args.program is not None):
        raise KGError("give either a PROGRAM or --all -o DIR")
    store = _store(args)
    if args.all:
        if not args.output:
            raise KGError("--all needs -o DIR, the folder to write the gallery to")
        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        with _progress("rendering every program…"):
            files = diagrams.gallery(store, out)
        print(f"wrote {len(files)} files to {out} (open {out / 'index.html'})", file=sys.stderr)
        return EXIT_OK
    _write(diagrams.render_program(store, args.program, fmt=args.format), args.output)
    return EXIT_OK


SANKEY_CATEGORIES = {"initial": "InitialBudget", "supplementary": "SupplementaryBudget", "total": "MultiYearTotal"}


def cmd_sankey(args: argparse.Namespace) -> int:
    from kg import diagrams

    store = _store(args)
    options = {"fiscal_year": args.fy, "category": SANKEY_CATEGORIES[args.category],
               "programs": args.program or None}
    if args.format == "html":
        _write(diagrams.sankey_html(store, **options), args.output)
    else:
        _write(diagrams.sankey_static(store, **options, fmt=args.format), args.output)
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    # The server is a separate package (server/ imports kg, never the reverse); it is imported
    # here only when this command runs.
    import os

    import pyoxigraph
    import uvicorn

    from kg.load import expand, ontology_sources, project_root
    from kg.store import EmbeddedStore
    from server.app import create_app

    token = None
    if args.token_file:
        try:
            token = Path(args.token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise KGError(f"{args.token_file}: cannot read the token file: {exc.strerror}") from None
    elif os.environ.get("KG_UPDATE_TOKEN"):
        token = os.environ["KG_UPDATE_TOKEN"].strip()
    if args.allow_update and not token:
        raise KGError("--allow-update needs a token: --token-file FILE or KG_UPDATE_TOKEN")
    remote = bool(args.store or os.environ.get("KG_STORE"))
    if args.location and remote:
        raise KGError("--location keeps the embedded store on disk; it cannot be combined with --store")
    if args.watch is not None and (remote or args.location):
        raise KGError("--watch reloads the graph from Turtle files; it cannot be combined with --store or --location")
    if args.location:
        folder = Path(args.location)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            raw = pyoxigraph.Store(str(folder))
        except OSError as exc:
            raise KGError(f"{folder}: cannot open the store: {exc}") from None
        embedded = EmbeddedStore(raw)
        store: Store = embedded
        if len(raw) == 0:  # a new store: fill it from the files once
            with _progress("loading the graph…"):
                embedded.load(ontology_sources() + expand(args.data or [project_root() / "graph_data"]))
                raw.flush()
    else:
        store = _store(args)
    reload_from = None if remote or args.location else (args.data or [project_root() / "graph_data"])
    try:
        app = create_app(store, query_timeout=args.timeout, workers=args.workers,
                         worker_memory=args.worker_memory * 1024 * 1024 if args.worker_memory else None,
                         admin_token=token, allow_update=args.allow_update, persistent=bool(args.location),
                         reload_from=reload_from, watch=args.watch)
    except ValueError as exc:
        raise KGError(str(exc)) from None
    print(f"serving {store.describe()} on http://{args.host}:{args.port}/"
          + (" (updates allowed with the token)" if args.allow_update else " (read-only)"), file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", server_header=False,
                limit_concurrency=args.max_connections)
    return EXIT_OK


# ---------------------------------------------------------------- parser

def _add_store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", metavar="URL", help="SPARQL endpoint to query instead of the embedded store "
                   "(default: $KG_STORE)")
    p.add_argument("--data", metavar="PATH", nargs="+", help="Turtle files or folders to load instead of graph_data/")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``kg`` (used by ``--help`` and by the README test)."""
    parser = _Parser(prog="kg", description="Query, validate and serve the jp-funding knowledge graph.",
                     epilog="exit codes: 0 ok, 1 violations found, 2 bad input or usage")
    parser.add_argument("--version", action="version", version=f"kg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("validate", help="validate ontology + data with the SHACL shapes")
    p.add_argument("paths", nargs="*", metavar="PATH", help="data files or folders (default: graph_data/)")
    p.add_argument("--engine", choices=("fast", "pyshacl"), default="fast",
                   help="fast: the shapes compiled to SPARQL on pyoxigraph (default); pyshacl: pySHACL on rdflib")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("synth", help="write a synthetic graph shaped like graph_data/ (for benchmarks)")
    p.add_argument("--programs", "-n", type=int, required=True, metavar="N",
                   help="number of budget sheets; 5000 gives about a million triples")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (same seed, same file)")
    p.add_argument("--output", "-o", required=True, metavar="FILE", help="the Turtle file to write")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("query", help="run a named query or a .rq file")
    p.add_argument("name", metavar="NAME|FILE.rq")
    p.add_argument("--param", "-p", action="append", metavar="NAME=VALUE", help="query parameter (repeatable)")
    p.add_argument("--format", "-f", choices=FORMATS, default="table")
    _add_store_options(p)
    p.set_defaults(func=cmd_query)

    p = sub.add_parser("queries", help="list the named queries")
    p.add_argument("--format", "-f", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_queries)

    p = sub.add_parser("channels", help="what each intermediary body channels")
    p.add_argument("body", nargs="?", metavar="BODY", help="e.g. orgs:jetro (default: all)")
    p.add_argument("--format", "-f", choices=("text", "json"), default="text")
    _add_store_options(p)
    p.set_defaults(func=cmd_channels)

    p = sub.add_parser("program", help="everything about one program")
    p.add_argument("program", metavar="ID|TEXT", help="program:slug, a slug, or part of its title")
    p.add_argument("--format", "-f", choices=("text", "json"), default="text")
    _add_store_options(p)
    p.set_defaults(func=cmd_program)

    p = sub.add_parser("export", help="export a NetworkX view")
    p.add_argument("--format", "-f", choices=("graphml", "gexf", "json", "csv"), required=True)
    p.add_argument("--view", choices=("flows", "units"), default="flows")
    p.add_argument("--output", "-o", metavar="FILE")
    _add_store_options(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("stats", help="counts of programs, flows, rates …")
    p.add_argument("--format", "-f", choices=("text", "json"), default="text")
    _add_store_options(p)
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("load", help="push ontology + data into a SPARQL store (Graph Store Protocol)")
    p.add_argument("paths", nargs="*", metavar="PATH")
    p.add_argument("--store", metavar="URL", required=True, help="the store's query endpoint, e.g. "
                   "http://127.0.0.1:7878/query")
    p.set_defaults(func=cmd_load)

    p = sub.add_parser("diagram", help="draw a program's funding scheme (or every program with --all)")
    p.add_argument("program", nargs="?", metavar="PROGRAM", help="program:slug, a slug, or its full IRI")
    p.add_argument("--format", "-f", choices=("svg", "png", "dot", "mermaid"), default="svg")
    p.add_argument("--all", action="store_true", help="render every program and sub-measure into -o DIR")
    p.add_argument("--output", "-o", metavar="FILE|DIR")
    _add_store_options(p)
    p.set_defaults(func=cmd_diagram)

    p = sub.add_parser("sankey", help="Sankey of money by fiscal year and budget category")
    p.add_argument("--fy", type=int, default=2025, metavar="YEAR")
    p.add_argument("--category", choices=tuple(SANKEY_CATEGORIES), default="initial")
    p.add_argument("--program", action="append", metavar="PROGRAM", help="only these programs (repeatable)")
    p.add_argument("--format", "-f", choices=("html", "svg", "png"), default="html")
    p.add_argument("--output", "-o", metavar="FILE")
    _add_store_options(p)
    p.set_defaults(func=cmd_sankey)

    p = sub.add_parser("serve", help="serve the SPARQL endpoint and web pages")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    _add_store_options(p)
    p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                   help="stop a SPARQL query after this long and answer 503 (default: 10)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="query worker processes (default: CPUs, 2 to 4; 0: threads, timeouts cannot stop a query)")
    p.add_argument("--worker-memory", type=int, default=1024, metavar="MB",
                   help="memory limit of each query worker (default: 1024; 0: none)")
    p.add_argument("--max-connections", type=int, default=256, metavar="N",
                   help="connections served at once; more get 503 (default: 256)")
    p.add_argument("--allow-update", action="store_true",
                   help="accept SPARQL updates from clients sending the bearer token")
    p.add_argument("--token-file", metavar="FILE",
                   help="bearer token for updates and POST /admin/reload (default: $KG_UPDATE_TOKEN)")
    p.add_argument("--location", metavar="DIR",
                   help="keep the store on disk in DIR (filled from the data files when new); updates persist")
    p.add_argument("--watch", type=float, nargs="?", const=1.0, metavar="SECONDS",
                   help="reload when the data files change (polled every SECONDS, default 1)")
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``kg``; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KGError as exc:
        print(f"kg: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
