"""Sheet facts besides money (issue 16), with expected answers read from the source text by hand.

Each expectation names the source line it was read from, and the tests check that the line says so,
so a wrong line number or a misread number fails here rather than passing silently.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from kg import queries
from kg.formats import plain

JF = "https://w3id.org/jp-funding/ont#"

SHEETS = {
    "01": "energy-saving-investment-demand-shift-r6s", "02": "energy-saving-investment-r6s",
    "03": "energy-saving-equipment-upgrade-r7", "04": "sme-energy-optimisation-r6s",
    "05": "sme-energy-optimisation-r7", "06": "clean-energy-vehicle-infrastructure-r6s",
    "07": "clean-energy-vehicle-infrastructure-r7", "08": "technical-cooperation-emerging-markets-r7",
    "09": "global-south-co-creation-r6s", "10": "inward-investment-overseas-expansion-r6s",
    "11": "overseas-business-export-promotion-r7", "12": "sme-overseas-ip-support-r7",
    "13": "logistics-efficiency-demonstration-r6s", "14": "sme-productivity-revolution-r6s",
    "15": "large-scale-growth-investment-r6s", "16": "sme-revitalisation-succession-r6s",
    "17": "sme-support-r7", "18": "sme-revitalisation-succession-r7", "19": "successor-support-network-r7",
    "20": "go-tech-r7", "21": "akatsuki-project-r6s", "22": "digital-infrastructure-r7", "23": "fuel-stockpiling-r6s",
    "24": "fuel-stockpiling-r7", "25": "circular-economy-resilience-r7", "26": "critical-technology-management-r7",
    "27": "fukushima-business-location-r7",
}

# The sheet lists of issue 16: which kind of fact each listed sheet states.
LISTED = {
    "Eligibility": "05 06 07 12 13 14 15 16 18 20 23 24 25 26 27",
    "EligibleCost": "02 03 04 05 06 07 12 13 14 15 23 24 27",
    "Period": "11 12 20 22 25 26 27",
    "MultiYearCommitment": "01 02 09 12 15 25",
    "ConsortiumMember": "20 25",
    "GrantRequirement": "27",
    "Deadline": "27",
    "ContractorTask": "20 26",
    "NamedComponent": "17",
}
LISTED_PAIRS = [(kind, nn) for kind, sheets in LISTED.items() for nn in sheets.split()]

# Target readings by the target's source line: (sheet, line, words on the line, comparators, horizons, N years).
TARGET_READINGS = [
    ("06", 302, "1,000基程度", {"about"}, set(), None),
    ("07", 373, "1,000基程度", {"about"}, set(), None),
    ("08", 456, "85％以上", {"at-least"}, set(), None),
    ("08", 462, "6社以上", {"at-least"}, set(), None),
    ("10", 686, "累計376件以上", {"cumulative", "at-least"}, set(), None),
    ("10", 694, "8割以上", {"at-least"}, set(), None),
    ("11", 774, "商談件数", set(), {"short-term"}, None),
    ("11", 777, "海外", set(), {"long-term"}, None),
    ("11", 789, "事業終了から5年後", {"at-least"}, {"long-term", "after-project-end"}, 5),
    ("11", 798, "年間貿易取引", {"annual"}, {"short-term"}, None),
    ("12", 840, "短期的には", {"at-least"}, {"short-term"}, None),
    ("12", 843, "中期的には", {"at-least"}, {"medium-term"}, None),
    ("12", 846, "最終的には", {"at-least"}, {"final"}, None),
    ("14", 998, "事業終了", set(), {"after-project-end"}, None),
    ("16", 1183, "以下に", {"at-most"}, set(), None),
    ("18", 1334, "以下に", {"at-most"}, set(), None),
    ("20", 1452, "50%超", {"more-than"}, {"short-term", "at-project-end"}, None),
    ("20", 1456, "50％超", {"more-than"}, {"final", "after-project-end"}, 5),
    ("20", 1457, "15％以上", {"at-least"}, {"final", "after-project-end"}, 5),
    ("20", 1459, "累計", {"cumulative"}, {"final", "after-project-end"}, 5),
    ("21", 1555, "短期的には", {"annual"}, {"short-term"}, None),
    ("21", 1558, "長期的には", {"annual"}, {"long-term"}, None),
    ("22", 1578, "5以上", {"at-least"}, set(), None),
    ("22", 1583, "短期的には", set(), {"short-term"}, None),
    ("22", 1585, "長期的には", set(), {"long-term"}, None),
    ("25", 1770, "短期的には", set(), {"short-term"}, None),
    ("25", 1773, "中期的には", set(), {"medium-term"}, None),
    ("25", 1776, "長期的には", set(), {"long-term"}, None),
    ("26", 1796, "最終的には", set(), {"final"}, None),
    ("27", 1861, "長期的には", set(), {"long-term"}, None),
    ("27", 1865, "長期的には", set(), {"long-term"}, None),
]

# Lines with two targets (30万口 and 1,000基程度): the value of the one the reading is about.
ONE_OF_TWO = {("06", 302): 1000, ("07", 373): 1000}

# Periods: (sheet, line, words on the line, class, start, end, years, min, max)
PERIODS = [
    ("11", 771, "令和7～", "ProjectPeriod", 2025, 2029, None, None, None),
    ("11", 780, "令和7～", "ProjectPeriod", 2025, 2029, None, None, None),
    ("11", 795, "令和6～", "ProjectPeriod", 2024, 2028, None, None, None),
    ("12", 838, "令和6年度から令和10年度までの5年間", "ProjectPeriod", 2024, 2028, 5, None, None),
    ("20", 1507, "補助事業期間：2～3年", "AssistedProjectPeriod", None, None, None, 2, 3),
    ("22", 1583, "令和4年度から令和8年度の5年間", "ProjectPeriod", 2022, 2026, 5, None, None),
    ("25", 1768, "令和6年から8年までの3年間", "ProjectPeriod", 2024, 2026, 3, None, None),
    ("26", 1796, "令和6年度から令和10年度までの5年間", "ProjectPeriod", 2024, 2028, 5, None, None),
    ("27", 1857, "平成28年から令和7年までの10年間", "ProjectPeriod", 2016, 2025, 10, None, None),
]

# Thresholds: (sheet, line, words on the line, value, unit, comparator or None)
THRESHOLDS = [
    ("05", 235, "1,500kl未満", Decimal(1500), "kl", "less-than"),
    ("14", 1009, "売上高100億円", Decimal(10_000_000_000), "円", None),
    ("15", 1129, "投資下限額は10億円", Decimal(1_000_000_000), "円", "at-least"),
    ("20", 1491, "2者以上", Decimal(2), "者", "at-least"),
]

# Multi-year commitments: (sheet, line, words on the line, total in yen or None, commitment year or None)
COMMITMENTS = [
    ("01", 2, "総額 2,025億円", 202_500_000_000, None),
    ("02", 66, "総額 350億円", 35_000_000_000, None),
    ("09", 559, "総額約1,500億円", 150_000_000_000, None),
    ("12", 900, "令和6年度国庫債務負担行為の後年度負担分", None, "2024"),
    ("15", 1123, "総額3,000億円", 300_000_000_000, None),
    ("25", 1752, "総額 100億円", 10_000_000_000, None),
]


def facts(store, sparql: str, **bind) -> list[dict]:
    table = store.query(f"PREFIX jf: <{JF}> " + sparql,
                        bindings={k: queries.to_term(v, "iri") for k, v in bind.items()})
    return [dict(zip(table.variables, row)) for row in table.rows]


def of_sheet(store, nn: str, kind: str) -> list[dict]:
    """Statements of a kind (a class, subclasses included) on the sheet or any of its sub-measures."""
    return facts(store, "SELECT ?s ?text ?line WHERE { ?s a ?c ; jf:statementOf ?of ; jf:statementText ?text ; "
                        "jf:sourceLine ?line . ?c <http://www.w3.org/2000/01/rdf-schema#subClassOf>* ?kind . "
                        "?of jf:partOf* ?sheet }",
                 sheet=f"program:{SHEETS[nn]}", kind=f"jf:{kind}")


def squash(text: str) -> str:
    return re.sub(r"[\s⚫•]", "", text)


def test_every_sheet_has_its_purpose_text(store, source_lines) -> None:
    sheets = facts(store, "SELECT ?p WHERE { ?p a jf:Program ; jf:budgetLineText ?t }")
    assert len(sheets) == 27
    for nn, slug in SHEETS.items():
        got = facts(store, "SELECT ?text ?line ?last WHERE { ?s a jf:PurposeStatement ; jf:statementOf ?p ; "
                           "jf:statementText ?text ; jf:sourceLine ?line ; jf:sourceLineLast ?last }",
                    p=f"program:{slug}")
        assert len(got) == 1, nn
        first, last = int(got[0]["line"]), int(got[0]["last"])
        # the purpose section: the heading 事業目的 comes before it, and its text is those lines exactly
        heading = next(n for n in range(first - 1, 0, -1) if "事業目的" in source_lines[n - 1])
        assert first - heading <= 3, nn
        assert squash(str(got[0]["text"])) == squash("".join(source_lines[first - 1:last])), nn
        assert got[0]["text"].language == "ja"


def test_every_sheet_has_an_overview(store) -> None:
    for nn in SHEETS:
        assert of_sheet(store, nn, "OverviewStatement"), nn


def test_every_statement_is_the_text_of_its_source_lines(store, source_lines) -> None:
    rows = facts(store, "SELECT ?s ?text ?line ?last WHERE { ?s jf:statementOf ?p ; jf:statementText ?text ; "
                        "jf:sourceLine ?line OPTIONAL { ?s jf:sourceLineLast ?last } }")
    assert len(rows) > 200
    for r in rows:
        first = int(r["line"])
        last = int(r["last"]) if r["last"] is not None else first
        assert 1 <= first < last <= first + 20 or r["last"] is None, r["s"]
        lines = [squash(line) for line in source_lines[first - 1:last]]
        text = squash(str(r["text"]))
        assert text in "".join(lines), (r["s"], first, last)
        # the range is tight: the text begins on its first line and ends on its last
        if len(lines) > 1:
            assert text not in "".join(lines[1:]) and text not in "".join(lines[:-1]), (r["s"], first, last)


@pytest.mark.parametrize("kind,nn", LISTED_PAIRS, ids=[f"{k}-{n}" for k, n in LISTED_PAIRS])
def test_every_listed_sheet_has_its_facts(store, kind: str, nn: str) -> None:
    assert of_sheet(store, nn, kind), f"sheet {nn} states a {kind} (issue 16) but the graph has none"


@pytest.mark.parametrize("nn,line,words,comparators,horizons,after", TARGET_READINGS,
                         ids=[f"{t[0]}-{t[1]}" for t in TARGET_READINGS])
def test_target_comparator_and_horizon(store, source_lines, nn, line, words, comparators, horizons, after) -> None:
    assert words in "".join(source_lines[line - 1:line + 4])  # the words, on the target's first lines
    got = facts(store, "SELECT ?t ?c ?h ?n WHERE { ?p jf:partOf* ?sheet ; jf:outcomeTarget ?t . ?t jf:sourceLine ?line "
                       "OPTIONAL { ?t jf:comparator ?c } OPTIONAL { ?t jf:horizon ?h } "
                       "OPTIONAL { ?t jf:yearsAfterProjectEnd ?n } }", sheet=f"program:{SHEETS[nn]}")
    got = [r for r in got if int(facts(store, "SELECT ?l WHERE { ?t jf:sourceLine ?l }", t=plain(r["t"]))[0]["l"]) == line]
    if (nn, line) in ONE_OF_TWO:  # two targets on the line: the one with this value
        value = ONE_OF_TWO[(nn, line)]
        got = [r for r in got if facts(store, f"SELECT ?t WHERE {{ ?t jf:targetValue {value} }}", t=plain(r["t"]))]
    assert got, f"no target of sheet {nn} on line {line}"
    for target in {str(r["t"]) for r in got}:
        mine = [r for r in got if str(r["t"]) == target]
        assert {str(r["c"]).rsplit("/", 1)[1] for r in mine if r["c"] is not None} == comparators
        assert {str(r["h"]).rsplit("/", 1)[1] for r in mine if r["h"] is not None} == horizons
        assert {int(r["n"]) for r in mine if r["n"] is not None} == ({after} if after else set())


@pytest.mark.parametrize("nn,line,words,cls,start,end,years,low,high", PERIODS, ids=[f"{p[0]}-{p[1]}" for p in PERIODS])
def test_periods(store, source_lines, nn, line, words, cls, start, end, years, low, high) -> None:
    assert words in source_lines[line - 1]
    got = facts(store, f"SELECT ?s ?start ?end ?years ?low ?high WHERE {{ ?s a jf:{cls} ; jf:statementOf ?of ; "
                       f"jf:sourceLine {line} . ?of jf:partOf* ?sheet "
                       "OPTIONAL { ?s jf:startYear ?start } OPTIONAL { ?s jf:endYear ?end } "
                       "OPTIONAL { ?s jf:durationYears ?years } OPTIONAL { ?s jf:minDurationYears ?low } "
                       "OPTIONAL { ?s jf:maxDurationYears ?high } }", sheet=f"program:{SHEETS[nn]}")
    assert len(got) == 1
    r = got[0]
    value = {k: (None if r[k] is None else int(str(r[k]))) for k in ("start", "end", "years", "low", "high")}
    assert value == {"start": start, "end": end, "years": years, "low": low, "high": high}


@pytest.mark.parametrize("nn,line,words,value,unit,comparator", THRESHOLDS, ids=[t[0] for t in THRESHOLDS])
def test_thresholds(store, source_lines, nn, line, words, value, unit, comparator) -> None:
    assert words in "".join(source_lines[line - 3:line])
    got = facts(store, "SELECT ?v ?u ?c ?line ?last WHERE { ?s a jf:Eligibility ; jf:statementOf ?of ; "
                       "jf:thresholdValue ?v ; jf:thresholdUnit ?u ; jf:sourceLine ?line . ?of jf:partOf* ?sheet "
                       "OPTIONAL { ?s jf:comparator ?c } OPTIONAL { ?s jf:sourceLineLast ?last } }",
                sheet=f"program:{SHEETS[nn]}")
    hits = [r for r in got if int(r["line"]) <= line <= int(r["last"] if r["last"] is not None else r["line"])]
    assert len(hits) == 1, got
    assert Decimal(str(hits[0]["v"])) == value and str(hits[0]["u"]) == unit
    assert (str(hits[0]["c"]).rsplit("/", 1)[1] if hits[0]["c"] is not None else None) == comparator


def test_fukushima_deadlines_and_grant_requirements(store, source_lines) -> None:
    line = source_lines[1930 - 1]
    assert "申請期限:R7年度末まで" in line and "運用期限:R9年度末まで" in line
    got = facts(store, "SELECT ?k ?y WHERE { ?s a jf:Deadline ; jf:statementOf ?sheet ; jf:deadlineKind ?k ; "
                       "jf:deadlineYear ?y ; jf:sourceLine 1930 }", sheet="program:fukushima-business-location-r7")
    assert {(str(r["k"]).rsplit("/", 1)[1], str(r["y"])) for r in got} == {("application", "2025"), ("operation", "2027")}
    reqs = {(plain(r["of"]), int(r["line"])) for r in facts(
        store, "SELECT ?of ?line WHERE { ?s a jf:GrantRequirement ; jf:statementOf ?of ; jf:sourceLine ?line }")}
    assert source_lines[1927 - 1].startswith("交付要件 Ⅰ") and source_lines[1928 - 1].startswith("Ⅱ")
    assert reqs == {("program:fukushima-business-location-r7-1", 1927), ("program:fukushima-business-location-r7-2", 1928)}


@pytest.mark.parametrize("nn,line,words,total,year", COMMITMENTS, ids=[c[0] for c in COMMITMENTS])
def test_multi_year_commitments(store, source_lines, nn, line, words, total, year) -> None:
    assert words in source_lines[line - 1] and "国庫債務負担" in source_lines[line - 1]
    got = facts(store, "SELECT ?total ?year WHERE { ?s a jf:MultiYearCommitment ; jf:statementOf ?sheet ; "
                       "jf:sourceLine ?line OPTIONAL { ?s jf:totalBudget/jf:amount ?total } "
                       "OPTIONAL { ?s jf:commitmentYear ?year } }", sheet=f"program:{SHEETS[nn]}")
    assert [(None if r["total"] is None else int(r["total"]), None if r["year"] is None else str(r["year"]))
            for r in got] == [(total, year)]


def test_circular_economy_commitment_runs_over_the_project_years(store, source_lines) -> None:
    assert "令和6年から8年までの3年間" in source_lines[1768 - 1]
    got = facts(store, "SELECT ?start ?end ?part WHERE { ?s a jf:MultiYearCommitment ; jf:statementOf ?sheet ; "
                       "jf:startYear ?start ; jf:endYear ?end ; jf:yearBudget/jf:amount ?part }",
                sheet="program:circular-economy-resilience-r7")
    assert {(str(r["start"]), str(r["end"])) for r in got} == {("2024", "2026")}
    assert {int(r["part"]) for r in got} == {3_000_000_000, 3_500_000_000}  # 30億円（35億円）, line 1752


def test_consortium_members(store, source_lines) -> None:
    go_tech = facts(store, "SELECT ?text ?of WHERE { ?s a jf:ConsortiumMember ; jf:statementOf ?sheet ; "
                           "jf:statementText ?text OPTIONAL { ?s jf:memberOf ?of } }", sheet="program:go-tech-r7")
    assert {str(r["text"]) for r in go_tech} == {"事業管理機関（中小企業者等、大学・公設試等）", "中小企業者等",
                                                  "大学・公設試等", "アドバイザー"}  # lines 1495-1503
    assert {plain(r["of"]) for r in go_tech} == {"actor:go-tech-r7-consortium-1"}
    partnership = facts(store, "SELECT ?text WHERE { ?s a jf:ConsortiumMember ; jf:statementOf ?sheet ; "
                               "jf:statementText ?text }", sheet="program:circular-economy-resilience-r7")
    footnote = "".join(source_lines[1732 - 1:1734])
    texts = [str(r["text"]) for r in partnership]
    assert len(texts) == 5 and all(t in footnote for t in texts) and "企業・業界団体" in texts


def test_named_components_of_small_business_measures(store, source_lines) -> None:
    got = {str(r["text"]) for r in facts(store, "SELECT ?text WHERE { ?s a jf:NamedComponent ; jf:statementOf ?of ; "
                                                "jf:statementText ?text }", of="program:sme-support-r7-4")}
    assert got == {"伴走型小規模事業者支援推進事業", "制度改正等の課題解決環境整備事業"}
    assert "「伴走型小規模事業者支援推進事業」" in source_lines[1260 - 1]


def test_local_governments_are_eligible_for_fuel_stockpiling_2(store, source_lines) -> None:
    assert "導入す" in source_lines[1704 - 1] and "自治体" in source_lines[1705 - 1]
    got = facts(store, "SELECT ?c WHERE { ?s a jf:Eligibility ; jf:statementOf ?of ; jf:eligibleClass ?c }",
                of="program:fuel-stockpiling-r7-2")
    assert {plain(r["c"]) for r in got} == {"category:local-governments"}


def test_sheet_08_draws_one_commission_arrow(store, source_lines) -> None:
    assert source_lines[437 - 1] == "委託"
    got = facts(store, "SELECT ?f ?of WHERE { ?f jf:ofProgram ?of ; jf:instrument ?i ; jf:sourceLine 437 . "
                       "?of jf:partOf* ?sheet }", sheet="program:technical-cooperation-emerging-markets-r7",
                i="instrument:commission")
    assert [plain(r["of"]) for r in got] == ["program:technical-cooperation-emerging-markets-r7"]


def test_sheet_12_grant_includes_inpits_operating_grant(store, source_lines) -> None:
    assert "運営費交付金を含む" in source_lines[871 - 1] and "交付金等※" in source_lines[879 - 1]
    got = facts(store, "SELECT ?i WHERE { ?f jf:recipient ?r ; jf:instrument ?i ; jf:sourceLine 879 }", r="orgs:inpit")
    assert {plain(r["i"]) for r in got} == {"instrument:grant", "instrument:operating-grant"}


# ---------------------------------------------------------------- named queries

def rows(store, name, **params):
    return queries.get(name).run(store, params).dicts()


def test_eligibility_query_finds_the_energy_threshold_for_smes(store) -> None:
    got = rows(store, "eligibility", **{"class": "category:smes"})
    energy = [r for r in got if plain(r["program"]) == "program:sme-energy-optimisation-r7" and r["value"] is not None]
    assert [(Decimal(str(r["value"])), str(r["unit"]), str(r["comparator_label"])) for r in energy] == [
        (Decimal(1500), "kl", "未満")]  # line 235
    assert {plain(r["class"]) for r in got} == {"category:smes"}
    everyone = {plain(r["class"]) for r in rows(store, "eligibility")}
    assert {"category:local-governments", "category:consortium"} <= everyone


def test_programs_ending_by_2025(store) -> None:
    got = {(plain(r["program"]), str(r["end"]), str(r["kind_label"])) for r in rows(store, "programs-ending-by", year="2025")}
    assert got == {("program:fukushima-business-location-r7", "2025", "事業期間"),  # line 1857
                   ("program:fukushima-business-location-r7", "2025", "申請期限")}  # line 1930
    later = {plain(r["program"]) for r in rows(store, "programs-ending-by", year="2028")}
    assert {"program:sme-overseas-ip-support-r7", "program:critical-technology-management-r7",
            "program:overseas-business-export-promotion-r7-3"} <= later
    assert "program:overseas-business-export-promotion-r7-1" not in later  # 令和7～11年度: FY2029


def test_targets_by_horizon(store) -> None:
    final = rows(store, "targets-by-horizon", horizon="horizon:final")
    assert {plain(r["program"]) for r in final} == {"program:sme-overseas-ip-support-r7", "program:go-tech-r7",
                                                     "program:critical-technology-management-r7"}
    ip = [r for r in final if plain(r["program"]) == "program:sme-overseas-ip-support-r7"]
    assert [(int(r["value"]), str(r["unit"]), str(r["comparators"])) for r in ip] == [(125, "社", "以上")]  # line 846
    after = rows(store, "targets-by-horizon", horizon="horizon:after-project-end")
    assert {int(r["years_after"]) for r in after if r["years_after"] is not None} == {5}
    assert len({plain(r["target"]) for r in rows(store, "targets-by-horizon")}) >= 25


def test_program_facts_of_fukushima(store) -> None:
    got = rows(store, "program-facts", program="program:fukushima-business-location-r7")
    kinds = {plain(r["kind"]) for r in got}
    assert {"jf:PurposeStatement", "jf:OverviewStatement", "jf:Eligibility", "jf:EligibleCost", "jf:ProjectPeriod",
            "jf:Deadline", "jf:GrantRequirement"} <= kinds
    period = next(r for r in got if plain(r["kind"]) == "jf:ProjectPeriod")
    assert (str(period["start"]), str(period["end"]), int(period["years"])) == ("2016", "2025", 10)
    commerce = next(r for r in got if plain(r["of"]) == "program:fukushima-business-location-r7-3"
                    and r["classes"] is not None)
    assert set(str(commerce["classes"]).split(" / ")) == {"地方公共団体", "民間事業者等"}  # line 1923
    assert [int(r["line"]) for r in got] == sorted(int(r["line"]) for r in got)
