"""The ``kg`` command line.

Exit codes: 0 ok; 1 validation found violations; 2 bad input or usage (unknown query, missing or
ill-typed parameter, unreadable Turtle, unreachable store). Data goes to stdout, diagnostics to
stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from kg import __version__
from kg.errors import KGError
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
        return open_store(getattr(args, "store", None), data=getattr(args, "data", None),
                          location=getattr(args, "location", None))


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
        report = validate(args.paths or None, engine=args.engine, shapes=args.shapes)
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.format != "text":
        sys.stdout.write(report.serialize(args.format))
        if args.format == "json":
            sys.stdout.write("\n")
    elif report.results:
        print(report.format(), file=sys.stdout if report.violations else sys.stderr)
    else:
        print(f"conforms: 0 violations, 0 warnings in {report.triples} triples", file=sys.stderr)
    if args.format != "text":
        print(f"{len(report.violations)} violation(s), {len(report.warnings)} warning(s) in {report.triples} "
              "triples", file=sys.stderr)
    return EXIT_VIOLATIONS if report.violations else EXIT_OK


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
    from kg import names, queries

    q = queries.get(args.name)
    params = _params(args.param)
    q.check(params)  # check parameters before loading anything
    store = _store(args)
    answer = q.run(store, params)
    labels = None if args.ids else names.labels_of(store, answer, lang=args.lang)
    sys.stdout.write(render(answer, args.format, labels=labels))
    _warn_if_empty(answer, q.name)
    return EXIT_OK


def _warn_if_empty(answer: object, what: str) -> None:
    rows = getattr(answer, "rows", None)
    if rows is not None and not rows:
        print(f"kg: warning: {what} answered no rows; check the parameters (kg queries lists examples)",
              file=sys.stderr)


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
    from kg import describe, names, views

    store = _store(args)
    body = compact(names.resolve(store, args.body, kinds=("body", "organisation"), what="body").iri) if args.body else None
    chans = views.channels(store, body)
    if body and not chans:
        known = [f"{c.label_ja} [{c.body}]" for c in views.channels(store)]
        raise KGError(f"{args.body!r} ({body}) passes no money on in this graph; bodies that do: {', '.join(known)}")
    if args.format == "json":
        print(json.dumps([c.__dict__ for c in chans], ensure_ascii=False, indent=2))
        return EXIT_OK
    labels = describe.channel_labels(store, chans, lang=args.lang)
    for c in chans:
        print(describe.channel_text(c, labels, ids=args.ids))
    return EXIT_OK


def cmd_program(args: argparse.Namespace) -> int:
    from kg import describe, names

    store = _store(args)
    program = names.resolve(store, args.program, kinds=("program",))
    doc = describe.program_doc(store, program.iri, lang=args.lang)
    if args.format == "json":
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        sys.stdout.write(describe.program_text(doc, ids=args.ids))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from kg import names, views

    store = _store(args)
    graph = {"units": views.unit_program_graph, "rs-money": views.rs_money_graph,
             "rs-chains": views.rs_block_chains}.get(args.view, views.to_networkx)(store)
    labels = None
    if args.format == "csv" and not args.ids:
        labels = names.labels(store, views.ids_of(graph), lang=args.lang)
    text = views.export(graph, args.format, labels=labels)
    if args.output:
        _write(text, args.output)
    else:
        sys.stdout.write(text + ("" if text.endswith("\n") else "\n"))
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
    import os

    from kg.load import data_sources, ontology_sources
    from kg.store import RemoteStore

    auth = None
    user = args.user or os.environ.get("KG_STORE_USER")
    if user:
        password = os.environ.get("KG_STORE_PASSWORD")
        if password is None:
            raise KGError(f"user {user} needs the password in $KG_STORE_PASSWORD")
        auth = (user, password)
    store = RemoteStore(args.store, graph_store=args.graph_store, auth=auth)
    files = ontology_sources() + ([Path(p) for p in args.paths] if args.paths else data_sources())
    with _progress(f"loading into {args.store}…"):
        n = store.load(files)
    print(f"loaded {n} triples from {len(files)} files into {args.store}", file=sys.stderr)
    return EXIT_OK


def _write(data: bytes | str, output: str | None) -> None:
    """Write to ``output`` (atomically: a temporary file renamed at the end) or to stdout."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if not output:
        sys.stdout.buffer.write(raw)
        sys.stdout.flush()
        return
    path = Path(output)
    if not path.parent.is_dir():
        raise KGError(f"{output}: the folder {path.parent} does not exist; create it or choose another -o")
    tmp = path.with_name(f".{path.name}.part")
    try:
        tmp.write_bytes(raw)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise KGError(f"{output}: cannot write: {exc.strerror}; choose another -o") from None
    print(f"wrote {output}", file=sys.stderr)


def cmd_diagram(args: argparse.Namespace) -> int:
    from kg import diagrams, names, renderers

    if args.all == (args.program is not None):
        raise KGError("give either a PROGRAM or --all -o DIR")
    renderers.require(*renderers.needed_for(args.format if not args.all else "svg"))
    store = _store(args)
    if args.all:
        if not args.output:
            raise KGError("--all needs -o DIR, the folder to write the gallery to")
        out = Path(args.output)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise KGError(f"{out}: cannot create the folder: {exc.strerror}; choose another -o") from None
        with _progress("rendering every program…"):
            files = diagrams.gallery(store, out)
        print(f"wrote {len(files)} files to {out} (open {out / 'index.html'})", file=sys.stderr)
        return EXIT_OK
    program = names.resolve(store, args.program, kinds=("program",))
    _write(diagrams.render_program(store, program.iri, fmt=args.format), args.output)
    return EXIT_OK


SANKEY_CATEGORIES = {"initial": "InitialBudget", "supplementary": "SupplementaryBudget", "total": "MultiYearTotal"}


def cmd_sankey(args: argparse.Namespace) -> int:
    from kg import diagrams, names, renderers

    renderers.require(*renderers.needed_for(args.format))
    store = _store(args)
    programs = [names.resolve(store, p, kinds=("program",)).id for p in args.program or []]
    options = {"fiscal_year": args.fy, "category": SANKEY_CATEGORIES[args.category], "programs": programs or None}
    if not diagrams.sankey_links(store, **options)[1]:
        raise KGError(f"no {args.category} budget for fiscal year {args.fy} in this graph; "
                      f"try --fy 2024 or --fy 2025, or another --category")
    if args.format == "html":
        _write(diagrams.sankey_html(store, **options), args.output)
    else:
        _write(diagrams.sankey_static(store, **options, fmt=args.format), args.output)
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    # The server is a separate package (server/ imports kg, never the reverse); it is imported
    # here only when this command runs.
    import os

    import uvicorn

    from kg.load import expand, ontology_sources, project_root
    from server.app import create_app
    from server.connections import guarded, raise_file_limit
    from server.graphs import Graphs, build, cached_store

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
    files = None if remote else ontology_sources() + expand(args.data or [project_root() / "graph_data"])
    graphs = None
    if args.location:  # generations of the store on disk in DIR; filled from the files once when new
        try:
            graphs = Graphs.at(Path(args.location))
            if graphs.current is None:
                first = graphs.next_path()
                with _progress("loading the graph…"):
                    build(first, files or [])
                graphs.commit(first)
            store: Store = graphs.open()
        except OSError as exc:
            raise KGError(f"{args.location}: cannot open the store: {exc}") from None
    elif remote:
        store = _store(args)
    else:  # loaded once into a cache folder keyed by the files; a restart on the same files opens it at once
        with _progress("loading the graph…"):
            store = cached_store(files or [])
    reload_from = None if remote or args.location else (args.data or [project_root() / "graph_data"])
    public_url = args.public_url or f"http://{args.host if ':' not in args.host else f'[{args.host}]'}:{args.port}"
    try:
        app = create_app(store, query_timeout=args.timeout, workers=args.workers,
                         worker_memory=args.worker_memory * 1024 * 1024 if args.worker_memory else None,
                         admin_token=token, allow_update=args.allow_update, persistent=bool(args.location),
                         reload_from=reload_from, watch=args.watch, public_url=public_url, csv_raw=args.csv_raw,
                         graphs=graphs)
        protocol = guarded(per_client=args.max_client_connections, header_timeout=args.header_timeout,
                           body_timeout=max(args.body_timeout, args.header_timeout))
    except ValueError as exc:
        raise KGError(str(exc)) from None
    raise_file_limit()
    print(f"serving {store.describe()} on http://{args.host}:{args.port}/"
          + (" (updates allowed with the token)" if args.allow_update else " (read-only)"), file=sys.stderr)
    from kg import renderers

    for line in renderers.missing():  # checked once: the pages that need it answer 503 naming the fix
        print(f"kg: warning: diagrams need {line}", file=sys.stderr)
    # The client address (its share of workers) is the TCP peer's, never a header a client can write,
    # unless the peer is a --trusted-proxy: then its X-Forwarded-For names the client.
    proxies = args.trusted_proxy or []
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", server_header=False,
                limit_concurrency=args.max_connections, http=protocol, timeout_keep_alive=5,
                proxy_headers=bool(proxies), forwarded_allow_ips=proxies or None)
    return EXIT_OK


# ---------------------------------------------------------------- parser

def _add_label_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lang", choices=("ja", "en"), default="ja", help="language of the labels (default: ja)")
    p.add_argument("--ids", action="store_true", help="ids instead of labels (for scripts)")


def _add_store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", metavar="URL", help="SPARQL endpoint to query instead of the embedded store "
                   "(default: $KG_STORE)")
    p.add_argument("--data", metavar="PATH", nargs="+", help="Turtle files or folders to load instead of graph_data/ "
                   "(also .nq/.trig, e.g. the output of kg import rs; queries see the union of the graphs)")
    if not p.prog.endswith(" serve"):  # kg serve has its own --location (a writable store)
        p.add_argument("--location", metavar="DIR", help="open an on-disk store (from kg import rs --location) "
                       "instead of loading files")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``kg`` (used by ``--help`` and by the README test)."""
    parser = _Parser(prog="kg", description="Query, validate and serve the jp-funding knowledge graph.",
                     epilog="exit codes: 0 ok, 1 violations found, 2 bad input or usage")
    parser.add_argument("--version", action="version", version=f"kg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("validate", help="validate ontology + data with the SHACL shapes")
    p.add_argument("paths", nargs="*", metavar="DATA", help="data files or folders (default: graph_data/)")
    p.add_argument("--shapes", nargs="+", metavar="SHAPES", help="shapes files or folders instead of the "
                   "project's (then the data is DATA alone, without the project's ontology)")
    p.add_argument("--engine", choices=("fast", "pyshacl"), default="fast",
                   help="fast: the shapes compiled to SPARQL on pyoxigraph (default); pyshacl: pySHACL on rdflib")
    p.add_argument("--format", "-f", choices=("text", "turtle", "json"), default="text",
                   help="text: the readable report (default); turtle, json: a sh:ValidationReport graph "
                   "(json is JSON-LD) on stdout")
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
    _add_label_options(p)
    p.set_defaults(func=cmd_query)

    p = sub.add_parser("queries", help="list the named queries")
    p.add_argument("--format", "-f", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_queries)

    p = sub.add_parser("channels", help="what each intermediary body channels")
    p.add_argument("body", nargs="?", metavar="BODY", help="a name, abbreviation or id, e.g. JETRO, 中小機構 (default: all)")
    p.add_argument("--format", "-f", choices=("text", "json"), default="text")
    _add_store_options(p)
    _add_label_options(p)
    p.set_defaults(func=cmd_channels)

    p = sub.add_parser("program", help="everything about one program")
    p.add_argument("program", metavar="NAME", help="its title or part of it (ja or en), a slug or an id")
    p.add_argument("--format", "-f", choices=("text", "json"), default="text")
    _add_store_options(p)
    _add_label_options(p)
    p.set_defaults(func=cmd_program)

    p = sub.add_parser("export", help="export a NetworkX view")
    p.add_argument("--format", "-f", choices=("graphml", "gexf", "json", "csv"), required=True)
    p.add_argument("--view", choices=("flows", "units", "rs-money", "rs-chains"), default="flows",
                   help="flows, units: the PR sheets; rs-money: RS programs ↔ named recipients; "
                   "rs-chains: RS blocks and the 5-2 edges between them")
    p.add_argument("--output", "-o", metavar="FILE")
    _add_store_options(p)
    _add_label_options(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("stats", help="counts of programs, flows, rates …")
    p.add_argument("--format", "-f", choices=("text", "json"), default="text")
    _add_store_options(p)
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("load", help="push ontology + data into a SPARQL store (Graph Store Protocol)")
    p.add_argument("paths", nargs="*", metavar="PATH")
    p.add_argument("--store", metavar="URL", required=True, help="the store's query endpoint, e.g. "
                   "http://127.0.0.1:7878/query or http://127.0.0.1:8890/sparql?default-graph-uri=IRI (Virtuoso)")
    p.add_argument("--user", metavar="NAME",
                   help="user that may write (password in $KG_STORE_PASSWORD; default: $KG_STORE_USER)")
    p.add_argument("--graph-store", metavar="URL", help="Graph Store Protocol endpoint (default: asked of the "
                   "server: Virtuoso's /sparql-graph-crud-auth, else /store beside the query endpoint)")
    p.set_defaults(func=cmd_load)

    p = sub.add_parser("diagram", help="draw a program's funding scheme (or every program with --all)")
    p.add_argument("program", nargs="?", metavar="PROGRAM", help="its title or part of it, a slug or an id")
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

    from kg.importers.cli import add_import_parser  # kg import rs (issue 11)
    add_import_parser(sub)

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
    p.add_argument("--max-connections", type=int, default=4096, metavar="N",
                   help="connections served at once; more get 503 (default: 4096)")
    p.add_argument("--max-client-connections", type=int, default=64, metavar="N",
                   help="connections one client address may hold; more are closed at once (default: 64)")
    p.add_argument("--header-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="close a connection whose request line and headers take longer (default: 10)")
    p.add_argument("--body-timeout", type=float, default=30.0, metavar="SECONDS",
                   help="close a connection whose whole request takes longer (default: 30)")
    p.add_argument("--public-url", metavar="URL",
                   help="where clients reach this server, named in the service description and VoID "
                   "(default: http://HOST:PORT)")
    p.add_argument("--trusted-proxy", action="append", metavar="IP",
                   help="a reverse proxy whose X-Forwarded-For names the client (repeatable; default: none, "
                   "every client is its TCP address)")
    p.add_argument("--csv-raw", action="store_true",
                   help="write CSV cells as they are (default: a cell starting with = + - @ or tab gets a "
                   "leading ' so spreadsheets do not run it)")
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
    except KeyboardInterrupt:
        print("kg: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
