"""Competency questions: each returns the answer the source documents give.

Run over pyoxigraph with owlrl's closure loaded (as the published default graph: ontology +
data + inferred), and where the question needs reasoning, over the asserted triples too,
to show the answer differs.
"""

from __future__ import annotations

from collections import Counter

import pyoxigraph as ox
import pytest

from .support import ID, QUERIES_DIR, select

E = ID + "engagement/"
DEX = "https://w3id.org/defence-engagements/def#"


def run(store: ox.Store, name: str) -> list[dict[str, str]]:
    return select(store, (QUERIES_DIR / name).read_text(encoding="utf-8"))


def column(rows: list[dict[str, str]], name: str) -> list[str]:
    return [row[name] for row in rows]


def test_every_query_starts_with_a_one_line_comment() -> None:
    queries = [p for p in QUERIES_DIR.glob("*.rq") if not p.name.startswith("federated-")]
    assert len(queries) >= 10
    for path in queries:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# ") and len(first) > 10, path.name


def test_engagements_between_japan_and_the_us_in_2024(
    inferred_store: ox.Store, asserted_store: ox.Store
) -> None:
    # 000: Lasica (USEUCOM) hosted Minamikawa (Japan Joint Staff) "on March 11, 2024";
    # 000: "an earlier visit to Japan in February 2024 by ... Gen. Christopher Cavoli";
    # 001: "President Biden and Japanese Prime Minister Fumio Kishida during their summit in April".
    # The expected announcement (001) has no date, the Sweden LOI involves no Japanese party.
    rows = run(inferred_store, "engagements-between-countries-in-year.rq")
    assert column(rows, "engagement") == [
        E + "2024-02-cavoli-visit-to-japan",
        E + "2024-03-11-useucom-japan-joint-staff-talks",
        E + "2024-04-biden-kishida-summit",
    ]
    # dex:involvesCountry exists only through the property chains.
    assert run(asserted_store, "engagements-between-countries-in-year.rq") == []


def test_who_hosted_whom(inferred_store: ox.Store, asserted_store: ox.Store) -> None:
    # 000: "Maj. Gen. Daniel Lasica ... hosted Japan Joint Staff Maj. Gen. Nobutaka Minamikawa"
    #      (title: "USEUCOM hosts Japanese Joint Staff director");
    # 004: "Minister Šakalienė conveyed her appreciation to Minister Nakatani for hosting
    # the visit."
    rows = run(inferred_store, "who-hosted-whom.rq")
    pairs = {(row["hostName"], row["guestName"], row["engagement"]) for row in rows}
    assert pairs == {
        ("Daniel Lasica", "Nobutaka Minamikawa", E + "2024-03-11-useucom-japan-joint-staff-talks"),
        (
            "United States European Command",
            "Nobutaka Minamikawa",
            E + "2024-03-11-useucom-japan-joint-staff-talks",
        ),
        (
            "Nakatani",
            "Dovilė Šakalienė",
            E + "2025-05-28-japan-lithuania-defence-ministers-meeting",
        ),
    }
    # dex:hosted / dex:wasGuestAt are inverses the reasoner fills in.
    assert run(asserted_store, "who-hosted-whom.rq") == []


def test_gates_engagements_with_the_post_held_then(
    inferred_store: ox.Store, asserted_store: ox.Store
) -> None:
    # 003: "a visit by Secretary of Defense Robert M. Gates to Japan" (January 2011) and
    # "the last time Gates visited this country - in October 2009" (no post stated for 2009).
    rows = run(inferred_store, "person-engagements-with-post.rq")
    assert [(r["engagement"], r["startDate"], r.get("postTitle")) for r in rows] == [
        (E + "2009-10-gates-visit-to-japan", "2009-10", None),
        (E + "2011-01-13-gates-visit-to-japan", "2011-01-13", "Secretary of Defense"),
    ]
    assert rows[1]["organization"] == "United States Department of Defense"
    # Gates is asserted only as dex:guest; dex:participant comes from the sub-property axiom.
    assert run(asserted_store, "person-engagements-with-post.rq") == []


def test_topics_discussed_with_lithuania(
    inferred_store: ox.Store, asserted_store: ox.Store
) -> None:
    # 004 §2: "security of Euro-Atlantic and Indo-Pacific is inseparable", "support for Ukraine",
    # "United Nations Security Council resolution on North Korea"; §3: "cyber cooperation",
    # "high-level exchanges ... educational exchanges"; §4: "humanitarian demining",
    # "the future of security of information"; the planned MM Dialogue (defence exchanges).
    rows = run(inferred_store, "topics-discussed-with-lithuania.rq")
    assert {row["topic"].rsplit("/", 1)[1] for row in rows} == {
        "euro-atlantic-security",
        "indo-pacific-security",
        "support-for-ukraine",
        "korean-peninsula",
        "cyber-defence",
        "defence-exchanges",
        "humanitarian-demining",
        "information-security",
    }
    assert run(asserted_store, "topics-discussed-with-lithuania.rq") == []


def test_engagements_in_europe(inferred_store: ox.Store, asserted_store: ox.Store) -> None:
    # 000: "at USEUCOM‘s headquarters in Stuttgart, Germany";
    # "in Stockholm, Sweden, April 12, 2024".
    rows = run(inferred_store, "engagements-in-region.rq")
    assert column(rows, "engagement") == [
        E + "2024-03-11-useucom-japan-joint-staff-talks",
        E + "2024-04-12-sweden-useucom-cyber-partnership-loi",
    ]
    # Only the transitive closure of dex:containedInPlace reaches Europe from a facility or city.
    assert run(asserted_store, "engagements-in-region.rq") == []


def test_engagements_per_cameo_code(inferred_store: ox.Store) -> None:
    # 040 consult: the April summit (001), the NEXT conference (002), the planned MM Dialogue (004);
    # 042 make a visit: Cavoli in Japan (000), Gates in Japan 2011 and 2009 (003);
    # 043 host a visit: Lasica hosting Minamikawa (000), Nakatani "hosting the visit" (004);
    # 057 sign formal agreement: the Sweden–USEUCOM letter of intent (000);
    # 010 make statement: the expected USFJ announcement (001).
    rows = run(inferred_store, "engagements-per-cameo-code.rq")
    counts = {row["cameoCode"]: int(row["engagements"]) for row in rows}
    assert counts == {"010": 1, "040": 3, "042": 3, "043": 2, "057": 1}
    plover = {row["cameoCode"]: row.get("ploverCode") for row in rows}
    assert plover == {
        "010": None,
        "040": "CONSULT",
        "042": "CONSULT",
        "043": "CONSULT",
        "057": "AGREE",
    }


def test_every_quote_behind_the_2011_gates_visit(inferred_store: ox.Store) -> None:
    # 003: the header date, the body date ("said January 13, 2010."), "briefings Thursday",
    # Kitazawa's interview, and "statements, made during a visit by Secretary of Defense ...".
    rows = run(inferred_store, "quotes-behind-engagement.rq")
    exacts = column(rows, "exact")
    assert len(exacts) == 5
    assert "Thursday, January 13, 2011, 20:26 PM" in exacts
    assert "Japanese defense officials said January 13, 2010." in exacts
    assert {row["archivedText"] for row in rows} == {
        "https://w3id.org/defence-engagements/archive/003_6be6a4849add33df.txt"
    }


def test_entities_still_without_wikidata_link(
    inferred_store: ox.Store, asserted_store: ox.Store
) -> None:
    # DATA-NOTES "Not yet evidenced": Austin, Gates, Cavoli, Paparo, Kitazawa, Šakalienė, Lasica,
    # Minamikawa, Wellons, Schoff, USEUCOM, USINDOPACOM, USFJ, Yokota Air Base, JMOD, Joint Staff,
    # JSDF, Sasakawa USA, Lithuanian MoND — plus the entities the notes do not list at all.
    rows = run(inferred_store, "entities-without-wikidata-link.rq")
    names = set(column(rows, "label"))
    for open_entity in (
        "Lloyd Austin",
        "Robert M. Gates",
        "Christopher Cavoli",
        "Samuel Paparo",
        "Toshimi Kitazawa",
        "Dovilė Šakalienė",
        "Daniel Lasica",
        "Nobutaka Minamikawa",
        "James B. Wellons",
        "James L. Schoff",
        "United States European Command",
        "United States Indo-Pacific Command",
        "United States Forces Japan",
        "Yokota Air Base",
        "Japan Ministry of Defense",
        "Japan Joint Staff",
        "Japan Self-Defense Forces",
        "Sasakawa Peace Foundation USA",
        "Ministry of National Defence of the Republic of Lithuania",
    ):
        assert open_entity in names
    for linked in ("Japan", "Tokyo", "NATO", "Fumio Kishida", "Nakatani", "Biden", "Europe"):
        assert linked not in names
    assert len(rows) == 24
    # dex:Agent and (for cities and facilities) dex:Place are inferred superclasses.
    assert run(asserted_store, "entities-without-wikidata-link.rq") == []


def test_date_claims_record_conflicts_and_preferences(inferred_store: ox.Store) -> None:
    # 003 header "Thursday, January 13, 2011" vs body "January 13, 2010" (2011 preferred);
    # 002 "Date Posted: 04.03.2023" read month.day.year (3 April preferred);
    # 001 "in April" read as April 2024; 000's related block "April 12, 2024".
    rows = run(inferred_store, "date-claims.rq")
    found = Counter(
        (row["about"].rsplit("/", 1)[1], row["value"], row["preferred"]) for row in rows
    )
    assert found == Counter(
        {
            ("2011-01-13-gates-visit-to-japan", "2011-01-13", "true"): 1,
            ("2011-01-13-gates-visit-to-japan", "2010-01-13", "false"): 1,
            (
                "2023-04-03-sasakawa-usa-supplements-comms-logistics-discussions",
                "2023-04-03",
                "true",
            ): 1,
            (
                "2023-04-03-sasakawa-usa-supplements-comms-logistics-discussions",
                "2023-03-04",
                "false",
            ): 1,
            ("2024-04-biden-kishida-summit", "2024-04", "true"): 1,
            ("2024-04-12-sweden-useucom-cyber-partnership-loi", "2024-04-12", "true"): 1,
        }
    )


def test_engagements_preceded_by(inferred_store: ox.Store, asserted_store: ox.Store) -> None:
    # 000: "This engagement followed an earlier visit to Japan in February 2024";
    # 001: "the decision ... was made following discussions ... during their summit in April";
    # 003: "since the last time Gates visited this country - in October 2009";
    # 004: "to hold the next Dialogue by the end of this year" (after the meeting).
    expected = {
        (E + "2024-03-11-useucom-japan-joint-staff-talks", E + "2024-02-cavoli-visit-to-japan"),
        (E + "usfj-joint-force-headquarters-announcement", E + "2024-04-biden-kishida-summit"),
        (E + "2011-01-13-gates-visit-to-japan", E + "2009-10-gates-visit-to-japan"),
        (
            E + "2025-japan-lithuania-military-to-military-dialogue",
            E + "2025-05-28-japan-lithuania-defence-ministers-meeting",
        ),
    }
    rows = run(inferred_store, "engagements-preceded-by.rq")
    assert {(row["engagement"], row["earlier"]) for row in rows} == expected
    asserted = run(asserted_store, "engagements-preceded-by.rq")
    assert {(row["engagement"], row["earlier"]) for row in asserted} == {
        (E + "2011-01-13-gates-visit-to-japan", E + "2009-10-gates-visit-to-japan")
    }


def test_engagements_of_the_department_of_defense_tree(
    inferred_store: ox.Store, asserted_store: ox.Store
) -> None:
    # USEUCOM (000: host, LOI signatory; Lasica's and Cavoli's posts), USFJ (002: participant,
    # Wellons's post), the Department itself (001: Defense Secretary Austin; 003: Secretary Gates).
    rows = run(inferred_store, "engagements-of-organisation-tree.rq")
    assert {row["engagement"].rsplit("/", 1)[1] for row in rows} == {
        "2024-03-11-useucom-japan-joint-staff-talks",
        "2024-02-cavoli-visit-to-japan",
        "2024-04-12-sweden-useucom-cyber-partnership-loi",
        "usfj-joint-force-headquarters-announcement",
        "2023-03-10-us-japan-next-alliance-initiative-conference",
        "2011-01-13-gates-visit-to-japan",
    }
    assert run(asserted_store, "engagements-of-organisation-tree.rq") == []


def test_planned_or_expected_engagements(inferred_store: ox.Store) -> None:
    # 001: "is set to make the official announcement in Tokyo" (expected);
    # 004: "to hold the next Dialogue by the end of this year" (planned).
    rows = run(inferred_store, "planned-or-expected-engagements.rq")
    assert {
        (row["engagement"].rsplit("/", 1)[1], row["status"], row.get("startDate")) for row in rows
    } == {
        ("usfj-joint-force-headquarters-announcement", DEX + "StatusExpected", None),
        ("2025-japan-lithuania-military-to-military-dialogue", DEX + "StatusPlanned", "2025"),
    }


def test_timeline(inferred_store: ox.Store) -> None:
    rows = run(inferred_store, "timeline.rq")
    assert len(rows) == 10
    assert [row.get("startDate") for row in rows] == [
        "2009-10",
        "2011-01-13",
        "2023-03-10",
        "2024-02",
        "2024-03-11",
        "2024-04",
        "2024-04-12",
        "2025",
        "2025-05-28",
        None,
    ]
    conference = next(row for row in rows if row.get("startDate") == "2023-03-10")
    # 002: "convened in Tokyo and at Yokota Air Base, Mar. 10 through 13, 2023."
    assert conference["endDate"] == "2023-03-13"
    assert conference["class"] == DEX + "Conference"
    summit = next(row for row in rows if row.get("startDate") == "2024-04")
    assert (summit["class"], summit["precision"]) == (
        DEX + "Summit",
        "http://www.w3.org/2006/time#unitMonth",
    )


def test_engagements_about_security_cooperation_and_narrower(
    inferred_store: ox.Store, asserted_store: ox.Store
) -> None:
    rows = run(inferred_store, "engagements-about-topic-tree.rq")
    # Everything but Gates's 2009 visit, for which 003 names no subject.
    assert len(rows) == 9
    assert E + "2009-10-gates-visit-to-japan" not in column(rows, "engagement")
    asserted = run(asserted_store, "engagements-about-topic-tree.rq")
    assert set(column(asserted, "engagement")) == {
        E + "2024-02-cavoli-visit-to-japan",
        E + "2024-03-11-useucom-japan-joint-staff-talks",
    }


@pytest.mark.parametrize(
    "name", sorted(p.name for p in QUERIES_DIR.glob("*.rq") if not p.name.startswith("federated-"))
)
def test_every_query_returns_rows(inferred_store: ox.Store, name: str) -> None:
    assert run(inferred_store, name), name
