"""Every subcommand, given bad input or missing an optional part, answers with one line and exit 2.

No Python traceback ever reaches a user: each case runs ``kg.cli.main`` (an exception escaping it
would be the traceback) and checks the exit code, that stderr names the problem and the fix in a
``kg: error:`` line, and that no "Traceback" is printed. A meta-test fails when a subcommand has
no case here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kg import renderers
from kg.cli import build_parser, main

MISSING_DIR = "/nonexistent-kg-test-dir/out"

# subcommand -> [(case id, argv, words the message must contain)]
CASES: dict[str, list[tuple[str, list[str], list[str]]]] = {
    "validate": [("missing-file", ["validate", "no-such-file.ttl"], ["no-such-file.ttl"])],
    "synth": [("unwritable-output", ["synth", "-n", "1", "-o", f"{MISSING_DIR}/x.ttl"], [MISSING_DIR]),
              ("zero-programs", ["synth", "-n", "0", "-o", "x.ttl"], ["--programs"])],
    "query": [("unknown-query", ["query", "nope"], ["unknown query", "did you mean"]),
              ("unknown-program", ["query", "caps", "--param", "program=中小企業生産性革名"],
               ["unknown program", "中小企業生産性革命推進事業"]),
              ("no-such-param", ["query", "budget-change", "--param", "fiscal_year=2025"], ["has no parameter"]),
              ("unreadable-rq", ["query", "no-such-file.rq"], ["no-such-file.rq"]),
              ("malformed-param", ["query", "caps", "--param", "program"], ["NAME=VALUE"])],
    "queries": [("bad-format", ["queries", "--format", "xml"], ["invalid choice"])],
    "channels": [("unknown-body", ["channels", "no such body at all"], ["unknown body"])],
    "program": [("ambiguous", ["program", "省エネ"], ["matches", "令和6年度補正"]),
                ("unknown", ["program", "program:no-such-thing"], ["unknown program"])],
    "export": [("unwritable-output", ["export", "-f", "csv", "-o", f"{MISSING_DIR}/x.csv"],
                [MISSING_DIR, "does not exist"])],
    "stats": [("missing-data", ["stats", "--data", "no-such-file.ttl"], ["no-such-file.ttl"])],
    "load": [("unreachable-store", ["load", "--store", "http://127.0.0.1:9/query"], ["127.0.0.1:9"])],
    "diagram": [("unwritable-output", ["diagram", "Go-Tech", "-f", "dot", "-o", f"{MISSING_DIR}/x.dot"],
                 [MISSING_DIR, "does not exist"]),
                ("unknown-program", ["diagram", "no such program"], ["unknown program"])],
    "sankey": [("no-data-for-year", ["sankey", "--fy", "2023"], ["2023", "no initial budget"]),
               ("unwritable-output", ["sankey", "-o", f"{MISSING_DIR}/x.html"], [MISSING_DIR])],
    "serve": [("update-without-token", ["serve", "--allow-update"], ["token"]),
              ("missing-data", ["serve", "--data", "no-such-file.ttl"], ["no-such-file.ttl"])],
    "import": [("missing-path", ["import", "rs", "no-such-folder", "-o", "x.nq"], ["no-such-folder"]),
               ("no-output", ["import", "rs", "no-such-folder"], ["--output"])],
}


def _check(capsys: pytest.CaptureFixture[str], argv: list[str], words: list[str]) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert code == 2, f"kg {' '.join(argv)} exited {code}: {err}"
    assert "Traceback" not in err
    assert "kg: error:" in err
    for word in words:
        assert word in err, f"kg {' '.join(argv)}: {word!r} not in {err!r}"


@pytest.mark.parametrize(
    ("argv", "words"),
    [pytest.param(argv, words, id=f"{cmd}-{case}") for cmd, cases in CASES.items() for case, argv, words in cases],
)
def test_bad_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str],
                                          words: list[str], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    if argv[0] not in _commands():
        pytest.skip(f"kg has no {argv[0]!r} command yet")
    monkeypatch.chdir(tmp_path)
    _check(capsys, argv, words)


@pytest.mark.parametrize(
    ("argv", "part", "fix"),
    [
        pytest.param(["diagram", "Go-Tech", "-f", "svg"], "dot", "apt-get install graphviz", id="diagram-no-dot"),
        pytest.param(["diagram", "Go-Tech", "-f", "png"], "graphviz", "make install", id="diagram-no-graphviz"),
        pytest.param(["sankey", "-o", "x.html"], "plotly", "make install", id="sankey-no-plotly"),
        pytest.param(["sankey", "-f", "svg", "-o", "x.svg"], "dot", "apt-get install graphviz", id="sankey-svg-no-dot"),
    ],
)
def test_missing_renderer_names_the_fix(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                        tmp_path: Path, argv: list[str], part: str, fix: str) -> None:
    status = {**renderers.check(), part: False}
    monkeypatch.setattr(renderers, "check", lambda: status)
    monkeypatch.chdir(tmp_path)
    _check(capsys, argv, [fix])
    assert not any(tmp_path.iterdir()), "nothing half-written"


def test_text_formats_need_no_renderer(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(renderers, "check", lambda: dict.fromkeys(renderers.NEEDS, False))
    assert main(["diagram", "Go-Tech", "-f", "mermaid"]) == 0
    assert capsys.readouterr().out.lstrip().startswith("%%")


def _commands() -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return set(sub.choices)  # type: ignore[arg-type]


def test_every_subcommand_has_a_case() -> None:
    missing = _commands() - set(CASES)
    assert not missing, f"add bad-input cases for: {', '.join(sorted(missing))}"
