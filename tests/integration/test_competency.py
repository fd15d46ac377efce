"""Competency questions, with expected answers read from the source text by hand.

Amounts below are copied from the sheets' budget lines (億円 = 100,000,000 yen); each comment names
the source line.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from kg import queries
from kg.formats import plain

OKU = 100_000_000

# 令和7年度予算案額 X億円（Y億円）: (sheet, FY2025 request, FY2024 initial in parentheses, source line)
FY2025_LINES = [
    ("energy-saving-equipment-upgrade-r7", "90", "110", 121),
    ("sme-energy-optimisation-r7", "6.1", "9.9", 263),
    ("clean-energy-vehicle-infrastructure-r7", "100", "100", 405),
    ("technical-cooperation-emerging-markets-r7", "37", "38", 431),
    ("overseas-business-export-promotion-r7", "32", "5.9", 740),
    ("sme-overseas-ip-support-r7", "11", "8.4", 822),
    ("sme-support-r7", "263", "260", 1265),
    ("successor-support-network-r7", "4.0", "4.4", 1395),
    ("go-tech-r7", "123", "128", 1478),
    ("digital-infrastructure-r7", "82", "76", 1625),
    ("fuel-stockpiling-r7", "37", "40", 1679),
    ("circular-economy-resilience-r7", "30", "35", 1752),
    ("critical-technology-management-r7", "19", "17", 1834),
    ("fukushima-business-location-r7", "110", "122", 1882),
]
# 中小企業支援事業のうち（１）… 144億円（146億円）, line 1389: part of sme-support-r7, never added again.
PART_OF_SHEET = ("sme-revitalisation-succession-r7", "144", "146")

# 令和6年度補正予算額 X億円: (sheet, amount, source line)
FY2024_SUPPLEMENTARY = [
    ("energy-saving-investment-demand-shift-r6s", "300", 2),
    ("energy-saving-investment-r6s", "300", 66),
    ("sme-energy-optimisation-r6s", "34", 199),
    ("clean-energy-vehicle-infrastructure-r6s", "360", 334),
    ("inward-investment-overseas-expansion-r6s", "100", 654),
    ("logistics-efficiency-demonstration-r6s", "23", 971),
    ("sme-productivity-revolution-r6s", "3400", 1056),
    ("large-scale-growth-investment-r6s", "1400", 1123),
    ("sme-revitalisation-succession-r6s", "61", 1156),
    ("akatsuki-project-r6s", "8.9", 1530),
    ("fuel-stockpiling-r6s", "21", 1642),
]

# 国庫債務負担行為含め総額: (sheet, fiscal year, amount, approximate)
MULTI_YEAR = [
    ("energy-saving-investment-demand-shift-r6s", 2024, "2025", False),  # line 2
    ("energy-saving-investment-r6s", 2024, "350", False),  # line 66
    ("global-south-co-creation-r6s", 2024, "1500", True),  # line 559: 総額約1,500億円
    ("large-scale-growth-investment-r6s", 2024, "3000", False),  # line 1123
    ("circular-economy-resilience-r7", 2025, "100", False),  # line 1752
]


def yen(oku: str) -> int:
    return int(Decimal(oku) * OKU)


def rows(store, name, **params):
    return queries.get(name).run(store, params).dicts()


def _totals(store):
    return {(int(r["fiscal_year"]), plain(r["category"])): int(r["total"]) for r in rows(store, "budget-totals")}


def test_there_are_27_budget_sheets(store) -> None:
    table = store.query("PREFIX jf: <https://w3id.org/jp-funding/ont#> "
                        "SELECT ?p WHERE { ?p a jf:Program ; jf:budgetLineText ?t }")
    sheets = {plain(r[0]).removeprefix("program:") for r in table.rows}
    expected = {s for s, *_ in FY2025_LINES} | {s for s, *_ in FY2024_SUPPLEMENTARY} | {
        PART_OF_SHEET[0], "global-south-co-creation-r6s"}
    assert sheets == expected
    assert len(sheets) == 27


def test_fy2025_initial_total_without_double_counting(store) -> None:
    expected = sum(yen(a) for _, a, _, _ in FY2025_LINES)
    assert expected == 94_410_000_000
    assert _totals(store)[(2025, "jf:InitialBudget")] == expected


def test_fy2024_initial_total_from_parentheses(store) -> None:
    expected = sum(yen(b) for _, _, b, _ in FY2025_LINES)
    assert _totals(store)[(2024, "jf:InitialBudget")] == expected == 95_460_000_000


def test_fy2024_supplementary_total(store) -> None:
    expected = sum(yen(a) for _, a, _ in FY2024_SUPPLEMENTARY)
    assert _totals(store)[(2024, "jf:SupplementaryBudget")] == expected == 600_790_000_000


@pytest.mark.parametrize("sheet,fy,amount,approx", MULTI_YEAR, ids=[m[0] for m in MULTI_YEAR])
def test_multi_year_totals(store, sheet, fy, amount, approx) -> None:
    table = store.query(
        "PREFIX jf: <https://w3id.org/jp-funding/ont#> SELECT ?a ?fy ?approx WHERE { ?p jf:budget ?b . "
        "?b jf:budgetCategory jf:MultiYearTotal ; jf:amount ?a ; jf:fiscalYear ?fy . "
        "OPTIONAL { ?b jf:isApproximate ?approx } }",
        bindings={"p": queries.to_term(f"program:{sheet}", "iri")},
    )
    assert [(int(a), int(str(y)), bool(x.toPython()) if x is not None else False) for a, y, x in table.rows] == [
        (yen(amount), fy, approx)]


def test_part_of_sheet_is_inside_its_parent(store) -> None:
    sheet, fy25, fy24 = PART_OF_SHEET
    info = {plain(r["program"]): r for r in rows(store, "programs")}
    assert plain(info[f"program:{sheet}"]["parent"]) == "program:sme-support-r7"
    change = {plain(r["program"]): r for r in rows(store, "budget-change")}
    assert int(change[f"program:{sheet}"]["fy2025"]) == yen(fy25)
    assert int(change[f"program:{sheet}"]["fy2024"]) == yen(fy24)


def test_programs_through_jetro(store) -> None:
    # JETRO is drawn on the sheets of lines 551, 664/680, 748/815 and 875.
    got = {plain(r["sheet"]) for r in rows(store, "body-programs", body="orgs:jetro")}
    assert got == {
        "program:global-south-co-creation-r6s",
        "program:inward-investment-overseas-expansion-r6s",
        "program:overseas-business-export-promotion-r7",
        "program:sme-overseas-ip-support-r7",
    }


def test_smrj_receives_grant_in_the_productivity_revolution(store) -> None:
    got = rows(store, "body-instruments", body="orgs:smrj")
    received = {plain(r["instrument"]) for r in got if str(r["direction"]) == "in"}
    assert received == {"instrument:grant"}  # line 1051: 交付金
    sheets = {plain(r["sheet"]) for r in rows(store, "body-programs", body="orgs:smrj")}
    assert sheets == {"program:sme-productivity-revolution-r6s"}


def test_productivity_revolution_chain(store) -> None:
    chain = rows(store, "program-chain", program="program:sme-productivity-revolution-r6s")
    main = sorted((int(r["hop"]), str(r["funder_label"]), str(r["recipient_label"]), str(r["instruments"]))
                  for r in chain if plain(r["of"]) == "program:sme-productivity-revolution-r6s")
    assert [(h, i) for h, _, _, i in main] == [(1, "交付金"), (2, "補助（定額）"), (3, "補助")]
    assert main[0][1] == "国" and "中小企業基盤整備機構" in main[0][2]
    assert main[1][2] == "民間団体等" and main[2][2] == "中小企業等"


def test_ipa_and_inpit_and_ameicc(store) -> None:
    ipa = {plain(r["sheet"]) for r in rows(store, "body-programs", body="orgs:ipa")}
    assert ipa == {"program:digital-infrastructure-r7"}
    inpit = {plain(r["sheet"]) for r in rows(store, "body-programs", body="orgs:inpit")}
    assert inpit == {"program:sme-overseas-ip-support-r7"}
    ameicc = rows(store, "body-instruments", body="orgs:ameicc-secretariat")
    assert {plain(r["instrument"]) for r in ameicc} == {"instrument:contribution"}  # 拠出, line 587


def test_highest_sme_rate_is_ten_tenths(store) -> None:
    sme = [r for r in rows(store, "rates-by-class", category="category:smes") if r["value"] is not None]
    top = max(Decimal(str(r["value"])) for r in sme)
    assert top == Decimal("1.0")  # line 156: 中小企業10/10以内
    assert any("10/10" in str(r["rate_text"]) for r in sme if Decimal(str(r["value"])) == top)


def test_caps_of_large_scale_growth_investment(store) -> None:
    got = sorted((str(r["kind_label"]), int(r["amount"]))
                 for r in rows(store, "caps", program="program:large-scale-growth-investment-r6s"))
    assert got == sorted([
        ("補助上限額", 5_000_000_000),  # line 1127
        ("投資下限額", 1_000_000_000),  # line 1129
        ("給付上限額", 4_500_000),  # line 1131
        ("給付上限額", 2_000_000),  # line 1133: 兼業・副業・出向の場合
    ])


def test_go_tech_caps(store) -> None:
    got = sorted(int(r["amount"]) for r in rows(store, "caps", program="program:go-tech-r7"))
    assert got == [45_000_000, 97_500_000, 100_000_000, 300_000_000]  # lines 1508-1510


def test_energy_efficiency_division_runs_the_five_energy_saving_sheets(store) -> None:
    got = {plain(r["program"]) for r in rows(store, "programs-by-unit", unit="unit:anre-energy-efficiency")}
    assert got == {f"program:{s}" for s in (
        "energy-saving-investment-demand-shift-r6s", "energy-saving-investment-r6s",
        "energy-saving-equipment-upgrade-r7", "sme-energy-optimisation-r6s", "sme-energy-optimisation-r7")}


def test_year_over_year_largest_increase_and_decrease(store) -> None:
    change = rows(store, "budget-change")
    by = {plain(r["program"]).removeprefix("program:"): int(r["change"]) for r in change}
    for sheet, a, b, _ in FY2025_LINES:
        assert by[sheet] == yen(a) - yen(b), sheet
    assert max(by, key=by.get) == "overseas-business-export-promotion-r7"  # 32億 vs 5.9億
    assert min(by, key=by.get) == "energy-saving-equipment-upgrade-r7"  # 90億 vs 110億


def test_outcome_targets_of_technical_cooperation(store) -> None:
    got = rows(store, "program-targets", program="program:technical-cooperation-emerging-markets-r7")
    values = sorted(Decimal(str(r["value"])) for r in got if r["value"] is not None)
    assert values == sorted(Decimal(v) for v in ("85", "60", "6", "40", "60"))  # lines 443-455


def test_fixed_amount_rates_have_no_value(store) -> None:
    table = store.query("PREFIX jf: <https://w3id.org/jp-funding/ont#> "
                        "SELECT ?r WHERE { ?r jf:isFixedAmount true ; jf:rateValue ?v }")
    assert table.rows == ()
    fixed = store.query("PREFIX jf: <https://w3id.org/jp-funding/ont#> "
                        "SELECT (COUNT(?r) AS ?n) WHERE { ?r jf:rateText ?t FILTER (CONTAINS(?t, '定額')) }")
    assert int(fixed.rows[0][0]) >= 10


def test_no_self_loops_and_generic_actors_stay_in_their_program(store) -> None:
    loops = store.query("PREFIX jf: <https://w3id.org/jp-funding/ont#> "
                        "SELECT ?f WHERE { ?f jf:funder ?a ; jf:recipient ?a }")
    assert loops.rows == ()
    chain = rows(store, "program-chain", program="program:energy-saving-investment-demand-shift-r6s")
    recipients = {plain(r["recipient"]) for r in chain}
    funders = {plain(r["funder"]) for r in chain}
    assert len(recipients) == 2 and len(recipients & funders) == 1  # 国 → 民間企業等 → 民間企業等


def test_sub_measure_units(store) -> None:
    # Lines 334-336: （１）製造産業局自動車課 （２）…水素・アンモニア課
    got = {(plain(r["program"]), plain(r["division"]))
           for r in rows(store, "programs-by-unit", unit="unit:mib-automobile")}
    assert ("program:clean-energy-vehicle-infrastructure-r6s-1", "unit:mib-automobile") in got


def test_channels_named_query_counts_each_sheet_once(store) -> None:
    got = {(plain(r["body"]), str(r["fiscal_year"]), plain(r["category"])): (int(r["sheets"]), int(r["budget"]))
           for r in rows(store, "channels")}
    # 中小機構: only the 3,400億円 supplementary sheet (line 1056)
    assert got[("orgs:smrj", "2024", "jf:SupplementaryBudget")] == (1, yen("3400"))
    # JETRO: FY2025 requests of the two initial-budget sheets that draw it (lines 740, 822)
    assert got[("orgs:jetro", "2025", "jf:InitialBudget")] == (2, yen("32") + yen("11"))
    # IPA: デジタル基盤整備事業 82億円（76億円） (line 1625)
    assert got[("orgs:ipa", "2025", "jf:InitialBudget")] == (1, yen("82"))
