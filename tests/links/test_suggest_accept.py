"""`links suggest` ranks the right candidate first; `links accept` writes a record check accepts."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pyoxigraph
import pytest

from defence_engagements.links.accept import TurtleWriter, parse_qid, resolve_entity
from defence_engagements.namespaces import BASE

from .links_support import FIXTURES, StandIn, invoke, links_env

EVIDENCE = ("--evidence", "Paired in a test fixture.")


@pytest.fixture
def planted_copy(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(FIXTURES / "data-planted", data)
    return data


def read_review(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def suggest(stand_in: StandIn, data: Path, tmp_path: Path) -> list[dict[str, str]]:
    """``links suggest`` over ``data`` against the stand-in; the review file's rows."""
    review = tmp_path / "review.tsv"
    result = invoke(
        "links",
        "suggest",
        "--endpoint",
        stand_in.sparql,
        "--out",
        str(review),
        env=links_env(data, tmp_path / "build"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return read_review(review)


def test_suggest_ranks_the_right_candidate_first(
    wikidata_stand_in: StandIn, planted_copy: Path, tmp_path: Path
) -> None:
    rows = suggest(wikidata_stand_in, planted_copy, tmp_path)
    ranked: dict[str, list[str]] = {}
    for row in rows:
        ranked.setdefault(row["entity"], []).append(row["qid"])
    # Only the unlinked entities are looked up, each with its namesakes ranked below.
    assert ranked == {
        "person/minoru-kihara": ["Q11518220", "Q99990010", "Q99990011"],  # context, then type
        "person/robert-m-gates": ["Q99990013", "Q99990014"],  # found without rank and initial
        "place/stockholm": ["Q1754", "Q99990012"],  # a city before a disambiguation page
    }
    first = next(r for r in rows if r["qid"] == "Q11518220")
    assert first["type_plausible"] == "true" and first["context"] == "P27=Q17"
    film = next(r for r in rows if r["qid"] == "Q99990011")
    assert film["type_plausible"] == "false"
    assert float(first["score"]) > float(film["score"])
    stockholm = next(r for r in rows if r["qid"] == "Q1754")
    assert stockholm["linked_from"] == "place/stuttgart"  # the planted wrong link shows up
    assert first["accept"] == (
        "engagements links accept person/minoru-kihara Q11518220 "
        "--label-seen 'Minoru Kihara' --language en --evidence ''"
    )
    # Nothing was published: the data is unchanged.
    assert sorted(p.name for p in planted_copy.iterdir()) == sorted(
        p.name for p in (FIXTURES / "data-planted").iterdir()
    )
    for path in planted_copy.iterdir():
        assert path.read_bytes() == (FIXTURES / "data-planted" / path.name).read_bytes()


def test_accept_writes_a_record_that_check_accepts(
    wikidata_stand_in: StandIn, planted_copy: Path, tmp_path: Path
) -> None:
    env = links_env(planted_copy, tmp_path / "build")
    before = (planted_copy / "wikidata-links.ttl").read_text(encoding="utf-8")
    result = invoke(
        "links",
        "accept",
        "person/minoru-kihara",
        "Q11518220",
        "--label-seen",
        "木原稔",
        "--language",
        "ja",
        "--evidence",
        "Label and citizenship match; reviewed in a test.",
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    after = (planted_copy / "wikidata-links.ttl").read_text(encoding="utf-8")
    assert after.startswith(before)  # appended, nothing else touched
    appended = after[len(before) :]
    assert "person:minoru-kihara dex:wikidataLink link:person-minoru-kihara ." in appended
    assert '"木原稔"@ja' in appended and "wd:Q11518220" in appended
    assert 'rdfs:label "Wikidata link: Minoru Kihara"@en' in appended

    store = pyoxigraph.Store()
    store.load(path=planted_copy / "wikidata-links.ttl", format=pyoxigraph.RdfFormat.TURTLE)
    ask = f"""PREFIX dex: <{BASE}def#>
    ASK {{ <{BASE}id/person/minoru-kihara> dex:wikidataLink ?r .
          ?r a dex:WikidataLink ; dex:wikidataItem <http://www.wikidata.org/entity/Q11518220> ;
             dex:labelSeen "木原稔"@ja ; dex:verifiedOn ?d ;
             dex:evidence "Label and citizenship match; reviewed in a test." .
          FILTER(DATATYPE(?d) = <http://www.w3.org/2001/XMLSchema#date>) }}"""
    assert store.query(ask)

    checked = invoke("links", "check", "--endpoint", wikidata_stand_in.sparql, env=env)
    assert "minoru-kihara" not in checked.stdout  # the new link raises nothing
    assert "checked 13 link(s)" in checked.stdout

    again = invoke("links", "accept", "person/minoru-kihara", "Q99990010", *EVIDENCE, env=env)
    assert again.returncode == 1 and "already linked to Q11518220" in again.stderr
    taken = invoke("links", "accept", "place/stockholm", "Q1754", *EVIDENCE, env=env)
    assert taken.returncode == 1 and "already linked from" in taken.stderr
    assert (planted_copy / "wikidata-links.ttl").read_text(encoding="utf-8") == after


@pytest.mark.parametrize(
    ("entity", "qid", "message"),
    [
        ("person/robert-m-gates", "Q0123", "not a Wikidata item id"),
        ("person/robert-m-gates", "P31", "not a Wikidata item id"),
        ("person/robert-m-gates", "Q12x", "not a Wikidata item id"),
        ("person/nobody", "Q99990013", "not described anywhere"),
        ("gates", "Q99990013", "not one of our entities"),
    ],
)
def test_accept_refuses_bad_input(
    planted_copy: Path, tmp_path: Path, entity: str, qid: str, message: str
) -> None:
    before = (planted_copy / "wikidata-links.ttl").read_bytes()
    env = links_env(planted_copy, tmp_path / "build")
    result = invoke("links", "accept", entity, qid, *EVIDENCE, env=env)
    assert result.returncode in {1, 2} and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert (planted_copy / "wikidata-links.ttl").read_bytes() == before


def test_accept_into_a_new_file_declares_its_prefixes(tmp_path: Path) -> None:
    from defence_engagements.links.accept import accept_link

    data = tmp_path / "data"
    data.mkdir()
    (data / "people.ttl").write_text(
        f"<{BASE}id/person/robert-m-gates> <http://www.w3.org/2000/01/rdf-schema#label> "
        '"Robert M. Gates"@en .\n',
        encoding="utf-8",
    )
    accepted = accept_link(
        data, "de:person/robert-m-gates", "wd:Q99990013", base=BASE, evidence=EVIDENCE[1]
    )
    text = accepted.path.read_text(encoding="utf-8")
    assert "@prefix de: <https://w3id.org/defence-engagements/id/> ." in text
    assert (
        "de:person\\/robert-m-gates dex:wikidataLink de:wikidata-link\\/person-robert-m-gates"
        in text
    )
    assert '"Robert M. Gates"@en' in text  # the entity's own name by default
    parsed = list(pyoxigraph.parse(path=accepted.path, format=pyoxigraph.RdfFormat.TURTLE))
    assert len(parsed) == 7


def test_qids_entities_and_terms_are_read_strictly() -> None:
    assert parse_qid("Q17") == parse_qid("wd:Q17") == "Q17"
    assert parse_qid("http://www.wikidata.org/entity/Q17") == "Q17"
    assert resolve_entity(f"<{BASE}id/country/jp>", BASE) == f"{BASE}id/country/jp"
    assert resolve_entity("/id/country/jp", BASE) == f"{BASE}id/country/jp"
    writer = TurtleWriter({"de": BASE + "id/", "person": BASE + "id/person/"})
    assert writer.iri(BASE + "id/person/x") == "person:x"
    assert writer.iri(BASE + "id/country/jp") == "de:country\\/jp"
    assert writer.iri("http://example.org/a b") == "<http://example.org/a b>"
    assert writer.literal(pyoxigraph.Literal('say "hi"\n', language="en")) == '"say \\"hi\\"\\n"@en'


@pytest.mark.parametrize("evidence", [(), ("--evidence", ""), ("--evidence", "  ")])
def test_accept_refuses_a_link_without_evidence(
    planted_copy: Path, tmp_path: Path, evidence: tuple[str, ...]
) -> None:
    before = (planted_copy / "wikidata-links.ttl").read_bytes()
    env = links_env(planted_copy, tmp_path / "build")
    result = invoke("links", "accept", "person/minoru-kihara", "Q11518220", *evidence, env=env)
    assert result.returncode in {1, 2} and "give --evidence" in result.stderr, result.stderr
    assert (planted_copy / "wikidata-links.ttl").read_bytes() == before


def test_accept_verify_refuses_a_wrong_item_and_takes_the_right_one(
    wikidata_stand_in: StandIn, planted_copy: Path, tmp_path: Path
) -> None:
    env = links_env(planted_copy, tmp_path / "build")
    before = (planted_copy / "wikidata-links.ttl").read_bytes()
    endpoint = ("--verify", "--endpoint", wikidata_stand_in.sparql)
    film = invoke(
        "links", "accept", "person/minoru-kihara", "Q99990011", *endpoint, *EVIDENCE, env=env
    )
    assert film.returncode == 1, film.stdout + film.stderr
    assert "Q99990011 fails verification" in film.stderr and "type" in film.stderr
    missing = invoke(
        "links", "accept", "person/robert-m-gates", "Q99999998", *endpoint, *EVIDENCE, env=env
    )
    assert missing.returncode == 1 and "Q99999998 does not exist" in missing.stderr
    assert (planted_copy / "wikidata-links.ttl").read_bytes() == before

    right = invoke(
        "links", "accept", "person/minoru-kihara", "Q11518220", *endpoint, *EVIDENCE, env=env
    )
    assert right.returncode == 0, right.stdout + right.stderr
    assert b"wd:Q11518220" in (planted_copy / "wikidata-links.ttl").read_bytes()


def test_suggest_joins_given_and_family_names_and_filters_by_type(
    wikidata_stand_in: StandIn, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "people.ttl").write_text(
        "@prefix foaf: <http://xmlns.com/foaf/0.1/> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        '<https://w3id.org/defence-engagements/id/person/kihara> rdfs:label "Kihara"@en ;\n'
        '    foaf:givenName "Minoru"@en ; foaf:familyName "Kihara"@en .\n'
        "<https://w3id.org/defence-engagements/id/place/stockholm> "
        'rdfs:label "Stockholm"@en .\n',
        encoding="utf-8",
    )
    env = links_env(data, tmp_path / "build")
    review = tmp_path / "people.tsv"
    result = invoke(
        "links",
        "suggest",
        "--type",
        "person",
        "--out",
        str(review),
        "--endpoint",
        wikidata_stand_in.sparql,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = read_review(review)
    assert {row["entity"] for row in rows} == {"person/kihara"}
    # Only the joined name finds anyone ("Kihara" alone is nobody's label on the stand-in).
    found = {row["qid"]: row["matched"] for row in rows}
    assert found["Q11518220"] == "label@en:Minoru Kihara"

    wrong = invoke("links", "suggest", "--type", "ship", env=env)
    assert wrong.returncode == 2 and "cannot suggest for type(s) ship" in wrong.stderr


def test_suggest_finds_an_item_known_only_by_an_alias(
    wikidata_stand_in: StandIn, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "organizations.ttl").write_text(
        "@prefix dex: <https://w3id.org/defence-engagements/def#> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        "<https://w3id.org/defence-engagements/id/organization/jgsdf> a dex:Organization ;\n"
        '    rdfs:label "JGSDF"@en .\n',
        encoding="utf-8",
    )
    rows = suggest(wikidata_stand_in, data, tmp_path)
    # "JGSDF" is no item's label on the stand-in, only the alias of Q99990030.
    assert [(row["entity"], row["qid"], row["matched"]) for row in rows] == [
        ("organization/jgsdf", "Q99990030", "alias@en:JGSDF")
    ]
    assert rows[0]["type_plausible"] == "true" and rows[0]["linked_from"] == ""
