"""The kg command: exit codes, output, and the README kept in step with --help."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

from kg.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_ok(capsys) -> None:
    code, _, err = run(capsys, "validate")
    assert code == 0
    assert "0 violation(s)" in err or "conforms" in err


def test_validate_violation_exit_1(capsys) -> None:
    bad = ROOT / "tests" / "fixtures" / "shapes" / "invalid" / "RateShape-01.ttl"
    code, out, _ = run(capsys, "validate", str(ROOT / "graph_data"), str(bad))
    assert code == 1
    assert "rate:fx-2" in out and "RateShape-01.ttl" in out and "jf:rateValue" in out


def test_validate_syntax_error_exit_2(capsys, tmp_path) -> None:
    f = tmp_path / "x.ttl"
    f.write_text("@prefix jf: <https://w3id.org/jp-funding/ont#> .\n\njf:a jfx:b jf:c .\n", encoding="utf-8")
    code, _, err = run(capsys, "validate", str(f))
    assert code == 2
    assert re.search(r"x\.ttl:3:\d+: The prefix jfx: has not been declared", err)


def test_query_json(capsys) -> None:
    code, out, _ = run(capsys, "query", "budget-totals", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert {"fiscal_year": "2025", "category": "jf:InitialBudget", "total": 94_410_000_000,
            "programs": 14, "includes_approximate": False} in rows


def test_query_unknown_and_missing_param_exit_2(capsys) -> None:
    code, _, err = run(capsys, "query", "nope")
    assert code == 2 and "unknown query 'nope'" in err and "Traceback" not in err
    code, _, err = run(capsys, "query", "caps", "--param", "program=not an iri")
    assert code == 2 and "unknown program 'not an iri'" in err and "did you mean" in err


def test_query_rq_file(capsys, tmp_path) -> None:
    f = tmp_path / "q.rq"
    f.write_text("SELECT (COUNT(*) AS ?n) WHERE { ?p a <https://w3id.org/jp-funding/ont#FundingFlow> }",
                 encoding="utf-8")
    code, out, _ = run(capsys, "query", str(f), "-f", "csv")
    assert code == 0 and int(out.splitlines()[1]) > 80


def test_channels_jetro(capsys) -> None:
    code, out, _ = run(capsys, "channels", "orgs:jetro", "--format", "json")
    assert code == 0
    [ch] = json.loads(out)
    assert set(ch["sheets"]) == {"program:global-south-co-creation-r6s",
                                 "program:inward-investment-overseas-expansion-r6s",
                                 "program:overseas-business-export-promotion-r7",
                                 "program:sme-overseas-ip-support-r7"}
    assert ch["budgets"]["2025 InitialBudget"] == 3_200_000_000 + 1_100_000_000


def test_program_by_text_and_unknown(capsys) -> None:
    code, out, _ = run(capsys, "program", "Go-Tech", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["id"] == "program:go-tech-r7"
    assert {b["amount"] for b in doc["budgets"]} == {12_300_000_000, 12_800_000_000}
    periods = [f for f in doc["facts"] if f["kind"] == "補助事業期間"]
    assert any("最長3年" in f["details"] and "最短2年" in f["details"] for f in periods), periods
    assert any(f["kind"] == "事業目的" for f in doc["facts"])
    code, _, err = run(capsys, "program", "program:no-such-thing")
    assert code == 2 and "unknown program" in err


def test_export_and_stats(capsys) -> None:
    code, out, _ = run(capsys, "export", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    smrj = [r for r in rows if (r["source"], r["target"]) == ("orgs:state", "orgs:smrj")]
    assert smrj and smrj[0]["source_label"] == "国" and smrj[0]["target_label"] == "独立行政法人中小企業基盤整備機構"
    assert all("{" not in v for r in rows for v in r.values()), "one value per cell, no JSON in a cell"
    assert smrj[0]["budget 2024 SupplementaryBudget"] == "340000000000"
    code, out, _ = run(capsys, "stats", "--format", "json")
    assert json.loads(out)["budget sheets"] == 27


def test_console_script_runs() -> None:
    proc = subprocess.run([sys.executable, "-m", "kg", "queries"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and "body-programs" in proc.stdout


def test_readme_documents_every_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in sub.choices:  # type: ignore[union-attr]
        assert f"kg {name}" in readme, f"README does not mention 'kg {name}'"
    help_text = parser.format_help()
    for line in help_text.splitlines():
        if line.startswith("    ") and line.split()[0] in sub.choices:  # type: ignore[operator]
            assert line.split(None, 1)[1].strip() in readme, f"README lacks the help line of {line.split()[0]}"


def test_unreachable_store_exit_2(capsys) -> None:
    code, _, err = run(capsys, "query", "programs", "--store", "http://127.0.0.1:9/query")
    assert code == 2
    assert "cannot reach the SPARQL store at http://127.0.0.1:9/query" in err and "Traceback" not in err


def test_malformed_rq_file_exit_2(capsys, tmp_path) -> None:
    f = tmp_path / "bad.rq"
    f.write_text("# param: x nonsense-type\nSELECT * WHERE { ?x ?p ?o }\n", encoding="utf-8")
    code, _, err = run(capsys, "query", str(f))
    assert code == 2 and "bad.rq:1: malformed param line" in err
    g = tmp_path / "syntax.rq"
    g.write_text("SELECT * WHERE { ?s ?p }\n", encoding="utf-8")
    code, _, err = run(capsys, "query", str(g))
    assert code == 2 and "SPARQL syntax error" in err


def test_ill_typed_parameter_exit_2(capsys, tmp_path) -> None:
    f = tmp_path / "typed.rq"
    f.write_text("# param: year year the fiscal year\nSELECT ?year WHERE { BIND(1 AS ?z) }\n", encoding="utf-8")
    code, _, err = run(capsys, "query", str(f), "--param", "year=twenty")
    assert code == 2 and "'twenty' is not a year like 2025" in err


def test_diagram_and_sankey(capsys, tmp_path) -> None:
    code, out, _ = run(capsys, "diagram", "program:sme-productivity-revolution-r6s", "--format", "mermaid")
    assert code == 0 and out.startswith("%%") and "flowchart LR" in out and "交付金" in out
    target = tmp_path / "s.svg"
    code, _, err = run(capsys, "sankey", "--fy", "2024", "--category", "supplementary", "-f", "svg", "-o", str(target))
    assert code == 0 and target.read_text(encoding="utf-8").lstrip().startswith(("<?xml", "<svg"))
    code, _, err = run(capsys, "diagram", "program:no-such")
    assert code == 2 and "unknown program" in err
