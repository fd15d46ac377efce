"""A deterministic synthetic graph shaped like ``graph_data/``, at national scale.

The seed graph holds 27 budget lines; the national review data lists about 5,000 programs a year.
:func:`synth` writes a graph of *N* programs with the classes, properties and IRI patterns of the
real data (see ``docs/data-conventions.md``), so the store, the queries, the validator and the
server can be measured at that size:

* ministries (``orgs:``, named bodies like ``orgs:meti``) with units in a bureau → department →
  division hierarchy (``unit:``), every unit reaching its ministry;
* a few dozen shared named intermediaries (``orgs:jetro``, ``orgs:nedo`` …) used by many programs,
  picked with a Zipf-like skew so a few carry most of the chains;
* per program: budgets in FY2024 / FY2025 and the three categories, sub-measures with
  ``jf:partOf`` (a few nested), chains of 2–4 hops from ``orgs:state`` with per-program generic
  actors, rates by beneficiary class, caps, outcome targets and ``prov:wasDerivedFrom`` a synthetic
  source document with a SHA-256.

The output is Turtle in the house style, written by plain string building (about a million
triples in seconds). It passes ``kg validate`` with no violation and no warning. Everything comes
from one :class:`random.Random` seeded with *seed*, so the same arguments give the same bytes.

Examples
--------
>>> text, triples = synth(3, seed=1)
>>> text == synth(3, seed=1)[0], triples > 300
(True, True)
>>> "jf:partOf program:" in text and "a jf:FundingFlow" in text
True
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["INTERMEDIARIES", "MINISTRIES", "Synth", "synth", "write"]

ID = "https://w3id.org/jp-funding/id/"

PREFIX_BLOCK = "\n".join(
    f"@prefix {name}: <{iri}> ."
    for name, iri in sorted(
        {
            "actor": f"{ID}actor/",
            "budget": f"{ID}budget/",
            "cap": f"{ID}cap/",
            "category": f"{ID}category/",
            "flow": f"{ID}flow/",
            "instrument": f"{ID}instrument/",
            "jf": "https://w3id.org/jp-funding/ont#",
            "level": f"{ID}unit-level/",
            "org": "http://www.w3.org/ns/org#",
            "orgs": f"{ID}org/",
            "program": f"{ID}program/",
            "prov": "http://www.w3.org/ns/prov#",
            "rate": f"{ID}rate/",
            "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
            "skos": "http://www.w3.org/2004/02/skos/core#",
            "source": f"{ID}source/",
            "target": f"{ID}target/",
            "unit": f"{ID}unit/",
            "xsd": "http://www.w3.org/2001/XMLSchema#",
        }.items()
    )
)

# ---------------------------------------------------------------- fixed vocabulary

MINISTRIES: tuple[tuple[str, str, str, str], ...] = (
    ("meti", "経済産業省", "Ministry of Economy, Trade and Industry", "METI"),
    ("mhlw", "厚生労働省", "Ministry of Health, Labour and Welfare", "MHLW"),
    ("mext", "文部科学省", "Ministry of Education, Culture, Sports, Science and Technology", "MEXT"),
    ("maff", "農林水産省", "Ministry of Agriculture, Forestry and Fisheries", "MAFF"),
    ("mlit", "国土交通省", "Ministry of Land, Infrastructure, Transport and Tourism", "MLIT"),
    ("env", "環境省", "Ministry of the Environment", "MOE"),
    ("mic", "総務省", "Ministry of Internal Affairs and Communications", "MIC"),
    ("mof", "財務省", "Ministry of Finance", "MOF"),
    ("mofa", "外務省", "Ministry of Foreign Affairs", "MOFA"),
    ("moj", "法務省", "Ministry of Justice", "MOJ"),
    ("mod", "防衛省", "Ministry of Defense", "MOD"),
    ("cao", "内閣府", "Cabinet Office", "CAO"),
    ("digital", "デジタル庁", "Digital Agency", "DA"),
    ("reconstruction", "復興庁", "Reconstruction Agency", "RA"),
    ("cfa", "こども家庭庁", "Children and Families Agency", "CFA"),
)
"""``(slug, ja, en, abbreviation)`` of the ministries and agencies that run programs."""

BUREAUS = (
    ("secretariat", "大臣官房", "Minister's Secretariat"),
    ("policy", "総合政策局", "Policy Bureau"),
    ("industry", "産業振興局", "Industry Promotion Bureau"),
    ("regional", "地域振興局", "Regional Development Bureau"),
    ("international", "国際局", "International Affairs Bureau"),
    ("technology", "科学技術局", "Science and Technology Bureau"),
    ("infrastructure", "基盤整備局", "Infrastructure Bureau"),
    ("welfare", "生活支援局", "Livelihood Support Bureau"),
)
DEPARTMENTS = (
    ("planning", "企画部", "Planning Department"),
    ("programs", "事業部", "Programs Department"),
    ("research", "研究開発部", "Research and Development Department"),
    ("promotion", "推進部", "Promotion Department"),
)
DIVISIONS = (
    ("general-affairs", "総務課", "General Affairs Division"),
    ("planning", "企画調整課", "Planning and Coordination Division"),
    ("policy", "政策課", "Policy Division"),
    ("promotion", "振興課", "Promotion Division"),
    ("technology", "技術課", "Technology Division"),
    ("international", "国際課", "International Division"),
    ("environment", "環境対策課", "Environmental Measures Division"),
    ("information", "情報政策課", "Information Policy Division"),
    ("finance", "金融課", "Finance Division"),
    ("human-resources", "人材育成課", "Human Resources Development Division"),
)

# The named bodies of graph_data/organisations.ttl are written exactly as there (same IRIs, same
# statements), so the synthetic file can be loaded beside the real data without conflicts.
INTERMEDIARIES: tuple[tuple[str, str, str, str, str, tuple[str, ...]], ...] = (
    ("jetro", "独立行政法人日本貿易振興機構", "Japan External Trade Organization", "JETRO",
     "incorporated-administrative-agency", ("(独)日本貿易振興機構", "日本貿易振興機構")),
    ("smrj", "独立行政法人中小企業基盤整備機構",
     "Organization for Small & Medium Enterprises and Regional Innovation, JAPAN", "SMRJ",
     "incorporated-administrative-agency", ("(独)中小企業基盤整備機構", "中小機構")),
    ("ipa", "独立行政法人情報処理推進機構", "Information-technology Promotion Agency, Japan", "IPA",
     "incorporated-administrative-agency", ("(独)情報処理推進機構",)),
    ("inpit", "独立行政法人工業所有権情報・研修館",
     "National Center for Industrial Property Information and Training", "INPIT",
     "incorporated-administrative-agency", ("工業所有権情報・研修館",)),
    ("ameicc-secretariat", "日ASEAN経済産業協力委員会（AMEICC）事務局",
     "AMEICC Secretariat (AEM-METI Economic and Industrial Cooperation Committee)", "AMEICC",
     "international-organisation", ()),
    ("nedo", "国立研究開発法人新エネルギー・産業技術総合開発機構",
     "New Energy and Industrial Technology Development Organization", "NEDO",
     "incorporated-administrative-agency", ()),
    ("jst", "国立研究開発法人科学技術振興機構", "Japan Science and Technology Agency", "JST",
     "incorporated-administrative-agency", ()),
    ("jsps", "独立行政法人日本学術振興会", "Japan Society for the Promotion of Science", "JSPS",
     "incorporated-administrative-agency", ()),
    ("amed", "国立研究開発法人日本医療研究開発機構", "Japan Agency for Medical Research and Development", "AMED",
     "incorporated-administrative-agency", ()),
    ("jogmec", "独立行政法人エネルギー・金属鉱物資源機構", "Japan Organization for Metals and Energy Security",
     "JOGMEC", "incorporated-administrative-agency", ()),
    ("jica", "独立行政法人国際協力機構", "Japan International Cooperation Agency", "JICA",
     "incorporated-administrative-agency", ()),
    ("jnto", "独立行政法人国際観光振興機構", "Japan National Tourism Organization", "JNTO",
     "incorporated-administrative-agency", ()),
    ("jasso", "独立行政法人日本学生支援機構", "Japan Student Services Organization", "JASSO",
     "incorporated-administrative-agency", ()),
    ("jeed", "独立行政法人高齢・障害・求職者雇用支援機構",
     "Japan Organization for Employment of the Elderly, Persons with Disabilities and Job Seekers", "JEED",
     "incorporated-administrative-agency", ()),
    ("wam", "独立行政法人福祉医療機構", "Welfare and Medical Service Agency", "WAM",
     "incorporated-administrative-agency", ()),
    ("jrtt", "独立行政法人鉄道建設・運輸施設整備支援機構",
     "Japan Railway Construction, Transport and Technology Agency", "JRTT",
     "incorporated-administrative-agency", ()),
    ("ur", "独立行政法人都市再生機構", "Urban Renaissance Agency", "UR",
     "incorporated-administrative-agency", ()),
    ("erca", "独立行政法人環境再生保全機構", "Environmental Restoration and Conservation Agency", "ERCA",
     "incorporated-administrative-agency", ()),
    ("nict", "国立研究開発法人情報通信研究機構", "National Institute of Information and Communications Technology",
     "NICT", "incorporated-administrative-agency", ()),
    ("aist", "国立研究開発法人産業技術総合研究所", "National Institute of Advanced Industrial Science and Technology",
     "AIST", "incorporated-administrative-agency", ()),
    ("riken", "国立研究開発法人理化学研究所", "RIKEN", "RIKEN", "incorporated-administrative-agency", ()),
    ("jaxa", "国立研究開発法人宇宙航空研究開発機構", "Japan Aerospace Exploration Agency", "JAXA",
     "incorporated-administrative-agency", ()),
    ("naro", "国立研究開発法人農業・食品産業技術総合研究機構",
     "National Agriculture and Food Research Organization", "NARO", "incorporated-administrative-agency", ()),
    ("jamstec", "国立研究開発法人海洋研究開発機構", "Japan Agency for Marine-Earth Science and Technology",
     "JAMSTEC", "incorporated-administrative-agency", ()),
    ("nies", "国立研究開発法人国立環境研究所", "National Institute for Environmental Studies", "NIES",
     "incorporated-administrative-agency", ()),
    ("jfc", "株式会社日本政策金融公庫", "Japan Finance Corporation", "JFC", "private-companies", ()),
    ("dbj", "株式会社日本政策投資銀行", "Development Bank of Japan", "DBJ", "private-companies", ()),
    ("nexi", "株式会社日本貿易保険", "Nippon Export and Investment Insurance", "NEXI", "private-companies", ()),
    ("sii", "一般社団法人環境共創イニシアチブ", "Sustainable open Innovation Initiative", "SII",
     "private-organisations", ()),
    ("chuokai", "全国中小企業団体中央会", "National Federation of Small Business Associations", "CHUOKAI",
     "private-organisations", ()),
    ("jcci", "日本商工会議所", "The Japan Chamber of Commerce and Industry", "JCCI", "private-organisations", ()),
    ("shokokai", "全国商工会連合会", "Central Federation of Societies of Commerce and Industry", "SHOKOKAI",
     "private-organisations", ()),
    ("unido", "国際連合工業開発機関", "United Nations Industrial Development Organization", "UNIDO",
     "international-organisation", ()),
    ("oecd", "経済協力開発機構", "Organisation for Economic Co-operation and Development", "OECD",
     "international-organisation", ()),
    ("eria", "東アジア・アセアン経済研究センター", "Economic Research Institute for ASEAN and East Asia", "ERIA",
     "international-organisation", ()),
    ("iea", "国際エネルギー機関", "International Energy Agency", "IEA", "international-organisation", ()),
)
"""``(slug, ja, en, abbreviation, category, altLabels@ja)`` of the shared named intermediaries."""

THEMES = (
    ("energy-saving", "省エネルギー設備導入支援", "energy-saving equipment support"),
    ("hydrogen", "水素社会実装推進", "hydrogen deployment"),
    ("storage-battery", "蓄電池産業基盤強化", "storage battery industry base"),
    ("semiconductor", "半導体サプライチェーン強靱化", "semiconductor supply chain resilience"),
    ("digital-transformation", "中小企業デジタル化支援", "SME digital transformation support"),
    ("export-promotion", "海外展開・輸出促進", "overseas expansion and export promotion"),
    ("startup", "スタートアップ創出促進", "start-up creation"),
    ("succession", "事業承継・引継ぎ支援", "business succession support"),
    ("regional-revitalisation", "地域経済活性化", "regional economic revitalisation"),
    ("tourism", "観光地域づくり推進", "tourism destination development"),
    ("agriculture", "スマート農業推進", "smart agriculture"),
    ("forestry", "森林整備・林業成長産業化", "forest management and forestry growth"),
    ("fisheries", "水産業成長産業化", "fisheries growth"),
    ("childcare", "保育人材確保", "childcare workforce"),
    ("employment", "雇用安定・人材開発", "employment stability and skills"),
    ("medical-research", "医療研究開発推進", "medical research and development"),
    ("elderly-care", "介護サービス基盤整備", "long-term care infrastructure"),
    ("disaster-prevention", "防災・減災対策", "disaster prevention and mitigation"),
    ("infrastructure-maintenance", "インフラ老朽化対策", "ageing infrastructure renewal"),
    ("public-transport", "地域公共交通確保", "regional public transport"),
    ("decarbonisation", "地域脱炭素推進", "regional decarbonisation"),
    ("circular-economy", "資源循環・リサイクル促進", "circular economy and recycling"),
    ("biodiversity", "自然環境保全", "nature conservation"),
    ("cybersecurity", "サイバーセキュリティ対策", "cybersecurity"),
    ("space", "宇宙産業振興", "space industry promotion"),
    ("ocean", "海洋開発推進", "ocean development"),
    ("education-ict", "学校ICT環境整備", "school ICT environment"),
    ("science", "基礎研究力強化", "basic research capacity"),
    ("culture", "文化芸術振興", "arts and culture promotion"),
    ("sports", "スポーツ振興", "sports promotion"),
    ("reconstruction", "被災地復興支援", "reconstruction of disaster-stricken areas"),
    ("housing", "住宅省エネ改修支援", "energy-efficient housing renovation"),
    ("logistics", "物流効率化", "logistics efficiency"),
    ("critical-minerals", "重要鉱物確保", "critical minerals security"),
    ("fuel-stockpiling", "石油備蓄", "oil stockpiling"),
    ("development-cooperation", "開発途上国協力", "development cooperation"),
)
PREFIXES_JA = (("", ""), ("次世代", "next-generation "), ("地域", "regional "), ("中小企業", "SME "),
               ("国際", "international "), ("先端", "advanced "), ("緊急", "emergency "))
SUB_TOPICS = (
    ("実証事業", "demonstration project"),
    ("導入支援事業", "deployment support"),
    ("調査事業", "survey project"),
    ("人材育成事業", "human resources development"),
    ("普及啓発事業", "awareness raising"),
    ("基盤整備事業", "infrastructure development"),
    ("研究開発事業", "research and development"),
    ("相談支援事業", "consultation support"),
)

# Generic boxes: (category slug, ja, en role)
EXECUTORS = (
    ("private-organisations", "民間団体等", "private organisations etc. (executing body)"),
    ("project-management-organisations", "事業管理機関", "project management organisation (executing body)"),
    ("certified-support-organisations", "認定支援機関等", "certified support organisations (executing body)"),
    ("prefectural-sme-support-centres", "都道府県中小企業支援センター等", "prefectural SME support centres (executing body)"),
    ("consortium", "共同体", "consortium (executing body)"),
    ("local-governments", "地方公共団体", "local governments (executing body)"),
)
BENEFICIARIES = (
    ("smes", "中小企業等", "SMEs etc. (recipients)"),
    ("private-companies", "民間企業等", "private companies etc. (recipients)"),
    ("private-businesses", "民間事業者等", "private businesses etc. (recipients)"),
    ("large-companies", "大企業", "large companies (recipients)"),
    ("mid-sized-and-smes", "中堅・中小企業", "mid-sized companies and SMEs (recipients)"),
    ("small-businesses", "小規模事業者", "small-scale businesses (recipients)"),
    ("universities-research-institutes", "大学・公設試等", "universities and public research institutes (recipients)"),
    ("local-governments", "地方公共団体", "local governments (recipients)"),
)
RATE_CLASSES = (
    ("smes", "中小企業"),
    ("large-companies", "大企業"),
    ("mid-sized-companies", "中堅企業"),
    ("universities-research-institutes", "大学・公設試等"),
    ("local-governments", "地方公共団体"),
)
RATIOS = ((1, 2), (2, 3), (1, 3), (3, 4), (1, 4), (10, 10), (4, 5))
INSTRUMENT_JA = {
    "subsidy": "補助", "fixed-amount-subsidy": "補助（定額）", "fund-subsidy": "補助（基金）", "commission": "委託",
    "grant": "交付金", "operating-grant": "運営費交付金", "grant-disbursement": "交付", "contribution": "拠出",
    "benefit-payment": "給付金", "advisory-support": "相談対応等",
}
CAP_KINDS = (("SubsidyCap", "補助上限額"), ("MaximumPayment", "給付上限額"), ("MinimumInvestment", "投資下限額"))
CAP_CONDITIONS = ("単年", "3年間", "一定の要件を満たす場合", "共同申請の場合")
TARGET_UNITS = (("%", "割合を"), ("件", "件数を"), ("社", "支援企業数を"), ("kl", "削減量を"), ("人", "人数を"))


# ---------------------------------------------------------------- writing

def _ja_amount(yen: int) -> str:
    """Yen as the sheets print it: 3,400億円, 6.1億円, 4,500万円."""
    if yen >= 100_000_000:
        oku = yen / 100_000_000
        text = f"{oku:,.1f}".removesuffix(".0")
        return f"{text}億円"
    return f"{yen // 10_000:,}万円"


def _lit(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class Synth:
    """The Turtle being written and the number of triples in it."""

    lines: list[str] = field(default_factory=list)
    triples: int = 0

    def node(self, subject: str, kind: str, pairs: Sequence[tuple[str, str]]) -> None:
        """Write one subject: ``a`` first, one predicate per line, the closing ``.`` on its own line."""
        out = self.lines
        out.append(f"{subject}\n    a {kind} ;\n")
        for p, o in pairs:
            out.append(f"    {p} {o} ;\n")
        out.append(".\n\n")
        self.triples += 1 + len(pairs)

    def text(self) -> str:
        """The whole document."""
        return "".join(self.lines)


def _labels(ja: str, en: str) -> list[tuple[str, str]]:
    return [("rdfs:label", f"{_lit(ja)}@ja"), ("rdfs:label", f"{_lit(en)}@en")]


class _Generator:
    def __init__(self, programs: int, seed: int) -> None:
        self.n = programs
        self.seed = seed
        self.rng = random.Random(seed)
        self.out = Synth()
        self.source = f"source:synthetic-budget-review-n{programs}-s{seed}"
        self.divisions: dict[str, list[str]] = {}
        # a few bodies carry most chains (Zipf-like); METI-sized ministries run more programs
        self.body_weights = [1.0 / (rank + 1) ** 0.9 for rank in range(len(INTERMEDIARIES))]
        self.ministry_weights = [1.0 / (rank + 1) ** 0.5 for rank in range(len(MINISTRIES))]
        self.pending: tuple[str, str, str, str] | None = None
        self.line = 0

    # ------------------------------------------------------------ shared nodes

    def header(self) -> None:
        self.out.lines.append(
            f"{PREFIX_BLOCK}\n\n# Synthetic graph written by `kg synth --programs {self.n} --seed {self.seed}`:\n"
            "# shaped like graph_data/ for benchmarks and tests. Not real data.\n\n"
        )
        seed_text = f"jp-funding-kg synthetic graph: programs={self.n} seed={self.seed}"
        digest = hashlib.sha256(seed_text.encode()).hexdigest()
        self.out.node(self.source, "jf:SourceDocument", [
            *_labels("合成データ（予算事業レビュー形式、ベンチマーク用）",
                     f"Synthetic budget review data ({self.n} programs, seed {self.seed}), for benchmarks"),
            ("rdfs:comment", f"{_lit('kg synth が生成した架空のデータ。実在の事業ではない。')}@ja"),
            ("rdfs:comment", f"{_lit('Generated by kg synth; no program in it is real.')}@en"),
            ("jf:sha256", _lit(digest)),
        ])
        self.out.node("orgs:state", "jf:NamedBody", [
            *_labels("国", "the national government (the state)"),
            ("skos:prefLabel", '"国"@ja'),
            ("skos:prefLabel", '"the national government (the state)"@en'),
            ("jf:actorCategory", "category:state"),
        ])

    def organisations(self) -> None:
        levels = self.rng  # the unit trees differ by seed too
        for slug, ja, en, abbr in MINISTRIES:
            self.out.node(f"orgs:{slug}", "jf:NamedBody", [
                *_labels(ja, en),
                ("skos:prefLabel", f"{_lit(ja)}@ja"),
                ("skos:prefLabel", f"{_lit(en)}@en"),
                ("jf:abbreviation", _lit(abbr)),
                ("jf:actorCategory", "category:state"),
                ("org:subOrganizationOf", "orgs:state"),
            ])
            divisions: list[str] = []
            for b_slug, b_ja, b_en in levels.sample(BUREAUS, levels.randint(4, 6)):
                bureau = f"unit:{slug}-{b_slug}"
                self.out.node(bureau, "org:OrganizationalUnit", [
                    *_labels(b_ja, b_en),
                    ("skos:altLabel", f"{_lit(ja + b_ja)}@ja"),
                    ("org:classification", "level:bureau"),
                    ("org:subOrganizationOf", f"orgs:{slug}"),
                    ("org:unitOf", f"orgs:{slug}"),
                ])
                for d_slug, d_ja, d_en in levels.sample(DEPARTMENTS, levels.randint(2, 3)):
                    dept = f"{bureau}-{d_slug}"
                    self.out.node(dept, "org:OrganizationalUnit", [
                        *_labels(d_ja, d_en),
                        ("skos:altLabel", f"{_lit(ja + b_ja + d_ja)}@ja"),
                        ("org:classification", "level:department"),
                        ("org:subOrganizationOf", bureau),
                        ("org:unitOf", f"orgs:{slug}"),
                    ])
                    for v_slug, v_ja, v_en in levels.sample(DIVISIONS, levels.randint(3, 5)):
                        div = f"{dept}-{v_slug}"
                        self.out.node(div, "org:OrganizationalUnit", [
                            *_labels(v_ja, v_en),
                            ("skos:altLabel", f"{_lit(ja + b_ja + d_ja + v_ja)}@ja"),
                            ("org:classification", "level:division"),
                            ("org:subOrganizationOf", dept),
                            ("org:unitOf", f"orgs:{slug}"),
                        ])
                        divisions.append(div)
            self.divisions[slug] = divisions
        for slug, ja, en, abbr, category, alt in INTERMEDIARIES:
            pairs = [*_labels(ja, en), ("skos:prefLabel", f"{_lit(ja)}@ja"), ("skos:prefLabel", f"{_lit(en)}@en")]
            pairs += [("skos:altLabel", f"{_lit(a)}@ja") for a in alt]
            pairs += [("jf:abbreviation", _lit(abbr)), ("jf:actorCategory", f"category:{category}")]
            self.out.node(f"orgs:{slug}", "jf:NamedBody", pairs)

    # ------------------------------------------------------------ one program

    def _line(self) -> str:
        self.line += 1
        return str(self.line)

    def program(self, i: int, previous: str | None, theme: tuple[str, str, str, str] | None) -> str | None:
        """Write sheet *i*; return its slug when the next sheet is to continue the same scheme.

        *previous* and *theme* are the FY2024 supplementary sheet this FY2025 sheet continues.
        """
        rng = self.rng
        if theme is not None:
            theme_slug, ja, en, ministry = theme
            kind = "r7"
        else:
            ministry = rng.choices(MINISTRIES, weights=self.ministry_weights)[0][0]
            t_slug, t_ja, t_en = rng.choice(THEMES)
            p_ja, p_en = rng.choice(PREFIXES_JA)
            theme_slug, ja, en = t_slug, f"{p_ja}{t_ja}事業", f"{p_en}{t_en} program".capitalize()
            kind = "r6s" if rng.random() < 0.35 else "r7"
        slug = f"{ministry}-{theme_slug}-{i:05d}-{kind}"
        me = f"program:{slug}"
        continued = kind == "r6s" and i < self.n and rng.random() < 0.3
        start = self.line + 1
        nxt = self._line
        divisions = self.divisions[ministry]
        facts = _Facts(slug)

        # budgets
        budgets: list[str] = []
        blocks: list[tuple[str, list[tuple[str, str]]]] = []

        def budget(key: str, amount: int, fy: int, category: str, text: str, *, request: bool = False,
                   approximate: bool = False) -> None:
            pairs = [("jf:amount", str(amount)), ("jf:fiscalYear", f'"{fy}"^^xsd:gYear'),
                     ("jf:budgetCategory", f"jf:{category}")]
            if request:
                pairs.append(("jf:isRequest", "true"))
            if approximate:
                pairs.append(("jf:isApproximate", "true"))
            pairs += [("jf:sourceText", _lit(text)), ("jf:sourceLine", nxt())]
            budgets.append(f"budget:{slug}-{key}")
            blocks.append((budgets[-1], pairs))

        amount = round(10 ** rng.uniform(-0.7, 3.3) * 10) * 10_000_000  # 0.2億円 to 2,000億円, to 0.1億円
        if kind == "r7":
            prev = max(int(amount * rng.uniform(0.7, 1.3)) // 10_000_000 * 10_000_000, 10_000_000)
            line_text = f"令和7年度予算案額 {_ja_amount(amount)}（{_ja_amount(prev)}）"
            budget("2025-initial", amount, 2025, "InitialBudget", f"令和7年度予算案額 {_ja_amount(amount)}",
                   request=True)
            budget("2024-initial", prev, 2024, "InitialBudget", f"（{_ja_amount(prev)}）")
            if rng.random() < 0.1:
                total = amount * rng.randint(3, 6)
                line_text = f"国庫債務負担行為含め総額 {_ja_amount(total)} ※{line_text}"
                budget("2025-total", total, 2025, "MultiYearTotal", f"国庫債務負担行為含め総額 {_ja_amount(total)}")
        else:
            approx = rng.random() < 0.05
            line_text = f"令和6年度補正予算額 {'約' if approx else ''}{_ja_amount(amount)}"
            budget("2024-supplementary", amount, 2024, "SupplementaryBudget", line_text, approximate=approx)
            if rng.random() < 0.15:
                total = amount * rng.randint(2, 5)
                budget("2024-total", total, 2024, "MultiYearTotal",
                       f"総額{_ja_amount(total)}（国庫債務負担行為等を含む）")
                line_text = f"{line_text}（総額{_ja_amount(total)}）"

        # sub-measures, a few with a nested one
        n_subs = rng.choices((0, 1, 2, 3, 4), weights=(30, 20, 25, 15, 10))[0]
        subs: list[str] = []
        top_subs: list[str] = []
        sub_pairs: dict[str, list[tuple[str, str]]] = {}
        units_on_subs = n_subs > 0 and rng.random() < 0.4
        for k in range(1, n_subs + 1):
            s_ja, s_en = SUB_TOPICS[(i + k) % len(SUB_TOPICS)]
            sub = f"{me}-{k}"
            pairs = [*_labels(f"{ja}のうち{s_ja}", f"{en}: {s_en}"), ("skos:notation", _lit(f"（{k}）")),
                     ("jf:partOf", me)]
            if units_on_subs:
                pairs.append(("jf:responsibleUnit", rng.choice(divisions)))
            first = nxt()
            pairs += [("prov:wasDerivedFrom", self.source), ("jf:sourceLineStart", first),
                      ("jf:sourceLineEnd", nxt())]
            sub_pairs[sub] = pairs
            subs.append(sub)
            top_subs.append(sub)
            if rng.random() < 0.1:
                nested = f"{sub}-1"
                first = nxt()
                sub_pairs[nested] = [
                    *_labels(f"{ja}のうち{s_ja}（重点枠）", f"{en}: {s_en} (priority track)"),
                    ("skos:notation", _lit("①")), ("jf:partOf", sub), ("prov:wasDerivedFrom", self.source),
                    ("jf:sourceLineStart", first), ("jf:sourceLineEnd", first)]
                subs.append(nested)
        holders = [me, *subs]
        extra: dict[str, list[tuple[str, str]]] = {h: [] for h in holders}

        # rates by beneficiary class in the side text (補助率：中小企業2/3以内 …)
        if rng.random() < 0.6:
            holder = rng.choice(holders)
            for cls, cls_ja in rng.sample(RATE_CLASSES, rng.randint(1, 3)):
                num, den = rng.choice(RATIOS)
                extra[holder].append(("jf:rate", facts.rate(num, den, f"{cls_ja}{num}/{den}以内", nxt(),
                                                             applies=cls, condition=rng.random() < 0.15)))
        if rng.random() < 0.5:
            for _ in range(rng.randint(1, 2)):
                extra[rng.choice(holders)].append(("jf:cap", facts.cap(rng, nxt())))
        targets = [facts.target(rng, ja, nxt()) for _ in range(rng.randint(1, 2))]
        for sub in subs:
            if rng.random() < 0.3:
                extra[sub].append(("jf:outcomeTarget", facts.target(rng, ja, nxt())))

        # chains: for the sheet, or for each sub-measure; often more than one (国 → JETRO → 中小企業等
        # and 国 → JETRO → 大企業 …)
        owners = top_subs if top_subs and rng.random() < 0.5 else [me]
        for owner in owners:
            for _ in range(rng.choices((1, 2, 3), weights=(30, 40, 30))[0]):
                self._chain(rng, me, owner, facts)

        end = int(nxt())
        pairs = [*_labels(ja, en), ("jf:budgetLineText", _lit(line_text))]
        pairs += [("jf:budget", b) for b in budgets]
        if not units_on_subs:
            pairs.append(("jf:responsibleUnit", rng.choice(divisions)))
        pairs += [("jf:outcomeTarget", t) for t in targets]
        pairs += extra[me]
        if previous is not None:
            pairs.append(("jf:sameSchemeAs", f"program:{previous}"))
        if continued:
            pairs.append(("jf:sameSchemeAs", f"program:{ministry}-{theme_slug}-{i + 1:05d}-r7"))
        pairs += [("prov:wasDerivedFrom", self.source), ("jf:sourceLineStart", str(start)),
                  ("jf:sourceLineEnd", str(end))]
        out = self.out
        out.lines.append(f"# Synthetic sheet {i}, lines {start}-{end}.\n\n")
        out.node(me, "jf:Program", pairs)
        for node, block in blocks:
            out.node(node, "jf:BudgetAmount", block)
        for sub in subs:
            out.node(sub, "jf:Program", sub_pairs[sub] + extra[sub])
        facts.write(out)
        self.pending = (theme_slug, ja, en, ministry) if continued else None
        return slug if continued else None

    def _chain(self, rng: random.Random, sheet: str, owner: str, facts: _Facts) -> None:
        """One chain of 2-4 hops from 国 to a final beneficiary, drawn for *owner*."""
        hops = rng.choices((2, 3, 4), weights=(35, 40, 25))[0]
        path = ["orgs:state"]
        for h in range(1, hops + 1):
            if h == hops:
                path.append(facts.actor(*rng.choice(BENEFICIARIES), sheet))
            elif (h == 1 and rng.random() < 0.8) or (h > 1 and rng.random() < 0.15):
                body = f"orgs:{rng.choices(INTERMEDIARIES, weights=self.body_weights)[0][0]}"
                while body in path:
                    body = f"orgs:{rng.choices(INTERMEDIARIES, weights=self.body_weights)[0][0]}"
                path.append(body)
            else:
                path.append(facts.actor(*rng.choice(EXECUTORS), sheet))
        for h in range(1, hops + 1):
            recipient = path[h]
            if h == 1:
                instruments = [rng.choice(("grant", "operating-grant", "commission", "subsidy", "contribution"))
                               if recipient.startswith("orgs:") else rng.choice(("commission", "subsidy"))]
            elif h == hops:
                instruments = rng.choices((["subsidy"], ["fixed-amount-subsidy"], ["benefit-payment"], ["commission"],
                                           ["advisory-support"]), weights=(50, 20, 10, 15, 5))[0]
            else:
                instruments = [rng.choice(("fixed-amount-subsidy", "commission", "fund-subsidy", "subsidy"))]
            if rng.random() < 0.05 and instruments[0] != "commission":
                instruments = ["commission", *instruments]
            facts.flow(rng, owner, path[h - 1], recipient, instruments, h, self._line)


class _Facts:
    """Actors, flows, rates, caps and targets of one program, written after its sheet."""

    def __init__(self, slug: str) -> None:
        self.slug = slug
        self.actors: list[tuple[str, list[tuple[str, str]]]] = []
        self.flows: list[tuple[str, list[tuple[str, str]]]] = []
        self.nodes: list[tuple[str, str, list[tuple[str, str]]]] = []
        self.counts: dict[str, int] = {}

    def _next(self, kind: str) -> str:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return f"{kind}:{self.slug}-{self.counts[kind]}"

    def actor(self, category: str, ja: str, en: str, sheet: str) -> str:
        key = f"actor {category}"
        self.counts[key] = self.counts.get(key, 0) + 1
        node = f"actor:{self.slug}-{category}-{self.counts[key]}"
        self.actors.append((node, [*_labels(ja, en), ("jf:actorCategory", f"category:{category}"),
                                   ("jf:actorInProgram", sheet)]))
        return node

    def rate(self, num: int, den: int, text: str, line: str, *, applies: str | None = None,
             condition: bool = False, fixed: bool = False) -> str:
        node = self._next("rate")
        pairs: list[tuple[str, str]] = [("jf:rateText", _lit(text))]
        if fixed:
            pairs.append(("jf:isFixedAmount", "true"))
        else:
            value = f"{num / den:.4f}".rstrip("0")
            pairs += [("jf:rateValue", value + "0" if value.endswith(".") else value),
                      ("jf:rateNumerator", str(num)), ("jf:rateDenominator", str(den)),
                      ("jf:isUpperBound", "true" if "以内" in text else "false")]
        if applies:
            pairs.append(("jf:appliesTo", f"category:{applies}"))
        if condition:
            pairs.append(("jf:condition", _lit("一定の要件を満たす場合")))
        pairs.append(("jf:sourceLine", line))
        self.nodes.append((node, "jf:Rate", pairs))
        return node

    def cap(self, rng: random.Random, line: str) -> str:
        node = self._next("cap")
        kind, kind_ja = rng.choice(CAP_KINDS)
        amount = rng.choice((500, 1000, 2000, 3000, 4500, 5000, 10000, 30000, 100000, 500000)) * 10_000
        pairs = [("jf:capKind", f"jf:{kind}"), ("jf:amount", str(amount))]
        if rng.random() < 0.3:
            pairs.append(("jf:appliesTo", f"category:{rng.choice(RATE_CLASSES)[0]}"))
        cond = rng.choice(CAP_CONDITIONS) if rng.random() < 0.3 else None
        if cond:
            pairs.append(("jf:condition", _lit(cond)))
        pairs += [("jf:sourceText", _lit(f"{kind_ja}{_ja_amount(amount)}" + (f"（{cond}）" if cond else ""))),
                  ("jf:sourceLine", line)]
        self.nodes.append((node, "jf:Cap", pairs))
        return node

    def target(self, rng: random.Random, ja: str, line: str) -> str:
        node = self._next("target")
        unit, what = rng.choice(TARGET_UNITS)
        year = rng.randint(2026, 2035)
        value = rng.randint(1, 100) if unit == "%" else rng.randint(10, 50000)
        text = f"令和{year - 2018}年度までに{ja}による{what}{value:,}{unit}とする。"
        pairs = [("jf:targetText", _lit(text)), ("jf:targetValue", str(value)), ("jf:targetUnit", _lit(unit)),
                 ("jf:targetYear", f'"{year}"^^xsd:gYear'), ("jf:sourceLine", line)]
        self.nodes.append((node, "jf:OutcomeTarget", pairs))
        return node

    def flow(self, rng: random.Random, owner: str, funder: str, recipient: str, instruments: list[str], hop: int,
             nxt: Callable[[], str]) -> None:
        node = self._next("flow")
        label = "・".join(INSTRUMENT_JA[i] for i in instruments)
        pairs = [("jf:ofProgram", owner), ("jf:funder", funder), ("jf:recipient", recipient)]
        pairs += [("jf:instrument", f"instrument:{i}") for i in instruments]
        if "subsidy" in instruments:
            num, den = rng.choice(RATIOS)
            pairs.append(("jf:rate", self.rate(num, den, f"{num}/{den}以内", nxt())))
            label = f"{label}（{num}/{den}）"
        elif "fixed-amount-subsidy" in instruments:
            pairs.append(("jf:rate", self.rate(0, 1, "定額", nxt(), fixed=True)))
        if rng.random() < 0.08:
            pairs.append(("jf:cap", self.cap(rng, nxt())))
        pairs += [("jf:hop", str(hop)), ("jf:sourceText", _lit(label)), ("jf:sourceLine", nxt())]
        if rng.random() < 0.02:
            pairs += [("jf:isUncertain", "true"),
                      ("rdfs:comment", f"{_lit('Uncertain reading: the arrow label sits between two boxes.')}@en")]
        self.flows.append((node, pairs))

    def write(self, out: Synth) -> None:
        for node, pairs in self.actors:
            out.node(node, "jf:GenericActor", pairs)
        for node, pairs in self.flows:
            out.node(node, "jf:FundingFlow", pairs)
        for node, kind, pairs in self.nodes:
            out.node(node, kind, pairs)


def synth(programs: int, *, seed: int = 0) -> tuple[str, int]:
    """Write a synthetic graph of *programs* budget sheets.

    Parameters
    ----------
    programs : int
        Number of budget sheets (top-level programs); 5000 gives about a million triples.
    seed : int
        Seed of the random choices; the same arguments always give the same text.

    Returns
    -------
    tuple of (str, int)
        The Turtle document and the number of triples in it.

    Raises
    ------
    ValueError
        If *programs* is not positive.
    """
    if programs < 1:
        raise ValueError(f"programs must be at least 1, got {programs}")
    gen = _Generator(programs, seed)
    gen.header()
    gen.organisations()
    previous: str | None = None
    for i in range(1, programs + 1):
        previous = gen.program(i, previous, gen.pending if previous else None)
    return gen.out.text(), gen.out.triples


def write(path: Path | str, programs: int, *, seed: int = 0) -> int:
    """Write :func:`synth`'s graph to *path* (UTF-8); return the number of triples."""
    text, triples = synth(programs, seed=seed)
    Path(path).write_text(text, encoding="utf-8")
    return triples
