"""Human pages and the ontology documentation, over HTTP from the real server."""

from __future__ import annotations

import calendar
import html
import re
from html.parser import HTMLParser

import pytest
import rdflib

HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
DEX = "https://w3id.org/defence-engagements/def#"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.alternates: list[tuple[str, str]] = []
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        values = dict(attrs)
        if tag == "link" and values.get("rel") == "alternate":
            self.alternates.append((values.get("type") or "", values.get("href") or ""))
        for name in ("src", "href"):
            if tag in ("script", "link", "img") and values.get(name):
                self.sources.append(values[name])


def _parse(text: str) -> _Links:
    links = _Links()
    links.feed(text)
    return links


def _engagements(site, client) -> list[tuple[str, str]]:
    query = """PREFIX dex: <https://w3id.org/defence-engagements/def#>
    PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
    SELECT ?e ?label WHERE { ?e a/rdfs:subClassOf* dex:Engagement ; rdfs:label ?label }"""
    rows = client.get(site.url("sparql"), params={"query": query}).json()["results"]["bindings"]
    return [(r["e"]["value"], r["label"]["value"]) for r in rows]


def test_home_lists_every_engagement(site, client):
    page = client.get(site.url(""), headers={"Accept": HTML})
    assert page.status_code == 200
    engagements = _engagements(site, client)
    assert len(engagements) >= 10
    for iri, _label in engagements:
        assert site.url(iri.removeprefix("https://w3id.org/defence-engagements/")) in page.text


def test_home_filters_by_year(site, client):
    everything = client.get(site.url("")).text
    years = sorted(set(re.findall(r'<option value="(\d{4})"', everything)))
    assert years
    year = years[0]
    filtered = client.get(site.url(""), params={"year": year}).text
    shown = re.findall(r"<time>([^<]*)</time>", filtered)
    assert shown and all(year in when for when in shown)
    assert len(shown) < len(re.findall(r"<time>", everything))


def test_home_filters_by_country_and_type(site, client):
    everything = client.get(site.url("")).text
    total = len(re.findall(r"<time>", everything))
    for name in ("country", "type"):
        select = re.search(rf'<select name="{name}">(.*?)</select>', everything, re.S)
        assert select
        values = re.findall(r'<option value="([^"]+)"', select.group(1))
        assert values, name
        counts = [
            len(re.findall(r"<time>", client.get(site.url(""), params={name: v}).text))
            for v in values
        ]
        assert all(0 < count <= total for count in counts), (name, counts)


def test_engagement_pages_show_what_a_reader_needs(site, client):
    for iri, label in _engagements(site, client):
        path = iri.removeprefix("https://w3id.org/defence-engagements/").replace("id/", "doc/", 1)
        page = client.get(site.url(path + ".html"))
        assert page.status_code == 200
        text = page.text
        assert label in html.unescape(text)
        for section in ("When", "Where", "Participants", "Evidence"):
            assert section in text
        assert "<blockquote" in text  # every engagement has a verbatim quote
        alternates = _parse(text).alternates
        assert {t for t, _ in alternates} >= {
            "text/turtle",
            "application/n-triples",
            "application/ld+json",
            "application/rdf+xml",
        }
        for _type, href in alternates:
            assert client.get(href).status_code == 200


def test_pages_load_nothing_from_other_hosts(site, client):
    for path in ("", "sparql", "def", "dumps/"):
        page = client.get(site.url(path), headers={"Accept": HTML})
        for source in _parse(page.text).sources:
            assert source.startswith(site.base_url), source


def test_static_assets_are_served(site, client):
    for path in ("static/style.css", "static/query.js"):
        response = client.get(site.url(path))
        assert response.status_code == 200 and len(response.content) > 500


@pytest.mark.parametrize(
    ("accept", "parser", "media_type"),
    [
        ("text/turtle", "turtle", "text/turtle"),
        ("application/rdf+xml", "xml", "application/rdf+xml"),
        ("application/ld+json", "json-ld", "application/ld+json"),
    ],
)
def test_ontology_in_rdf_by_accept_and_by_extension(site, client, accept, parser, media_type):
    by_accept = client.get(site.url("def"), headers={"Accept": accept})
    extension = {"turtle": "ttl", "xml": "rdf", "json-ld": "jsonld"}[parser]
    by_extension = client.get(site.url(f"def.{extension}"))
    for response in (by_accept, by_extension):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(media_type)
    graph = rdflib.Graph().parse(data=by_accept.text, format=parser)
    ontology = rdflib.URIRef("https://w3id.org/defence-engagements/def")
    assert (ontology, rdflib.RDF.type, rdflib.OWL.Ontology) in graph


def test_ontology_html_documents_every_class_and_property(site, client):
    turtle = rdflib.Graph().parse(data=client.get(site.url("def.ttl")).text, format="turtle")
    page = client.get(site.url("def"), headers={"Accept": HTML})
    assert page.status_code == 200
    terms = {
        s
        for kind in (rdflib.OWL.Class, rdflib.OWL.ObjectProperty, rdflib.OWL.DatatypeProperty)
        for s in turtle.subjects(rdflib.RDF.type, kind)
        if str(s).startswith(DEX)
    }
    assert len(terms) > 30
    for term in terms:
        name = str(term)[len(DEX) :]
        assert f'id="{name}"' in page.text, name
        label = turtle.value(term, rdflib.RDFS.label)
        assert str(label) in html.unescape(page.text)
    assert "Domain" in page.text and "Range" in page.text
    assert "transitive" in page.text
    assert "Subclass of" in page.text
    assert "http://www.w3.org/ns/org#" in page.text or "org:" in page.text


def test_home_lists_newest_first_with_undated_last(site, client):
    query = """PREFIX dex: <https://w3id.org/defence-engagements/def#>
    PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
    SELECT DISTINCT ?e ?start WHERE { ?e a/rdfs:subClassOf* dex:Engagement
    OPTIONAL { ?e dex:startDate ?start } }"""
    rows = client.get(site.url("sparql"), params={"query": query}).json()["results"]["bindings"]
    start = {r["e"]["value"]: r.get("start", {}).get("value", "") for r in rows}
    page = client.get(site.url("")).text
    links = re.findall(r'<a class="title" href="([^"]+)"', page)
    order = [
        start["https://w3id.org/defence-engagements/" + link.removeprefix(site.base_url)]
        for link in links
    ]
    assert len(order) == len(start)
    assert order == sorted(order, reverse=True)
    assert order[-1] == "" or all(order)


def test_a_page_beyond_the_last_is_empty_not_an_error(site, client):
    response = client.get(site.url(""), params={"page": "999"})
    assert response.status_code == 200
    assert "No engagement matches" in response.text


# The engagement page's sections, checked against SPARQL over the store. The
# "All statements" table repeats every value, so each check reads its own section.
PREFIXES = """PREFIX dex: <https://w3id.org/defence-engagements/def#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX oa: <http://www.w3.org/ns/oa#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
"""
MONTHS = list(calendar.month_name)


def _select(site, client, query: str) -> list[dict[str, str]]:
    response = client.get(site.url("sparql"), params={"query": PREFIXES + query})
    assert response.status_code == 200, response.text
    return [
        {k: v["value"] for k, v in row.items()} for row in response.json()["results"]["bindings"]
    ]


def _link(site, iri: str) -> str:
    return site.url(iri.removeprefix("https://w3id.org/defence-engagements/"))


def _page_of(site, client, iri: str) -> str:
    path = iri.removeprefix("https://w3id.org/defence-engagements/").replace("id/", "doc/", 1)
    page = client.get(site.url(path + ".html"))
    assert page.status_code == 200, iri
    return page.text


def _section(page: str, title: str) -> str:
    match = re.search(rf"<section>\s*<h2>{re.escape(title)}</h2>(.*?)</section>", page, re.S)
    return match.group(1) if match else ""


def _header(page: str) -> str:
    match = re.search(r'<div class="resource-header">(.*?)</div>\s*<section>', page, re.S)
    assert match
    return match.group(1)


def _items(section: str) -> list[str]:
    """The top-level <li> of a section (participants, related engagements)."""
    return re.findall(r"<li>(.*?)</li>\s*(?=<li>|</ul>|</ol>)", section, re.S)


def _grouped(rows: list[dict[str, str]], key: str, value: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for row in rows:
        if value in row:
            out.setdefault(row[key], set()).add(row[value])
    return out


def test_engagement_pages_show_posts_topics_outcomes_related_and_sourced_quotes(site, client):
    engagements = [iri for iri, _ in _engagements(site, client)]
    topics = _select(
        site,
        client,
        """SELECT ?e ?t ?label WHERE { ?e a/rdfs:subClassOf* dex:Engagement ; dex:topic ?t .
        ?t rdfs:label ?label FILTER(langMatches(lang(?label), "en")) }""",
    )
    outcomes = _grouped(
        _select(
            site,
            client,
            "SELECT ?e ?o WHERE { ?e a/rdfs:subClassOf* dex:Engagement ; dex:outcome ?o }",
        ),
        "e",
        "o",
    )
    posts = _select(
        site,
        client,
        """SELECT ?e ?holder ?title WHERE { ?e a/rdfs:subClassOf* dex:Engagement ;
        dex:participantPost ?post . ?post dex:holder ?holder ; dex:postTitle ?title }""",
    )
    related = _grouped(
        _select(
            site,
            client,
            """SELECT DISTINCT ?e ?other WHERE {
            ?e a/rdfs:subClassOf* dex:Engagement . ?other a/rdfs:subClassOf* dex:Engagement .
            { ?e ?p ?other } UNION { ?other ?p ?e } FILTER(?e != ?other) }""",
        ),
        "e",
        "other",
    )
    quotes = _select(
        site,
        client,
        """SELECT ?e ?text ?source ?archive WHERE { ?e a/rdfs:subClassOf* dex:Engagement ;
        dex:evidenceQuote ?q . ?q oa:exact ?text ; dex:quotedFrom ?source .
        OPTIONAL { ?source dex:archivedText ?archive } }""",
    )
    # The data exercises every section somewhere, else this test would prove nothing.
    assert topics and outcomes and posts and related and quotes
    assert set(outcomes) & {r["e"] for r in posts} & set(related) & {r["e"] for r in topics}

    for iri in engagements:
        page = _page_of(site, client, iri)
        header = _header(page)
        for row in (r for r in topics if r["e"] == iri):
            assert f'<a class="chip topic" href="{_link(site, row["t"])}">' in header, row
            assert row["label"] in html.unescape(header), row

        section = html.unescape(_section(page, "Outcomes"))
        for outcome in outcomes.get(iri, ()):
            assert f"<li>{outcome}</li>" in section, (iri, outcome)
        assert bool(section) == (iri in outcomes), iri

        people = _items(_section(page, "Participants"))
        for row in (r for r in posts if r["e"] == iri):
            person = [p for p in people if f'href="{_link(site, row["holder"])}"' in p]
            assert len(person) == 1, row
            held = re.findall(r'<div class="post">(.*?)<span class="note">', person[0])
            assert any(row["title"] in html.unescape(post) for post in held), (row, held)

        section = _section(page, "Related engagements")
        shown = set(re.findall(r'<a class="title" href="([^"]+)"', section))
        assert shown == {_link(site, other) for other in related.get(iri, ())}, iri

        figures = re.findall(r'<figure class="quote">(.*?)</figure>', page, re.S)
        for row in (r for r in quotes if r["e"] == iri):
            figure = [
                f
                for f in figures
                if html.unescape(re.search(r"<blockquote[^>]*>(.*?)</blockquote>", f, re.S)[1])
                == row["text"]
            ]
            assert len(figure) == 1, row
            assert f'<a href="{_link(site, row["source"])}">' in figure[0], row
            if "archive" in row:
                assert f'<a href="{_link(site, row["archive"])}#:~:text=' in figure[0], row


def test_engagement_dates_are_shown_at_their_precision(site, client):
    rows = _select(
        site,
        client,
        """SELECT ?e ?start (DATATYPE(?start) AS ?type) WHERE {
        ?e a/rdfs:subClassOf* dex:Engagement ; dex:startDate ?start }""",
    )
    types = {row["type"].rsplit("#", 1)[-1] for row in rows}
    assert {"date", "gYearMonth"} <= types  # day and month precision both occur in the data
    for row in rows:
        when = re.search(r"<dt>When</dt><dd>(.*?)</dd>", _page_of(site, client, row["e"]), re.S)
        assert when
        shown = re.search(r'<time datetime="([^"]+)">([^<]*)</time>', when.group(1))
        assert shown and shown.group(1) == row["start"], row
        text = shown.group(2)
        year, *rest = row["start"].split("-")
        kind = row["type"].rsplit("#", 1)[-1]
        if kind == "gYear":
            assert text == year, row
        elif kind == "gYearMonth":
            assert text == f"{MONTHS[int(rest[0])]} {year}", (row, text)
            assert not re.search(r"\d", text.replace(year, "")), (row, text)  # no made-up day
        else:
            assert text == f"{int(rest[1])} {MONTHS[int(rest[0])]} {year}", (row, text)


def test_wikidata_links_on_a_country_page_and_on_engagement_participants(site, client):
    japan = "https://w3id.org/defence-engagements/id/country/jp"
    same_as = {
        r["wd"]
        for r in _select(site, client, f"SELECT ?wd WHERE {{ <{japan}> owl:sameAs ?wd }}")
        if r["wd"].startswith("http://www.wikidata.org/entity/")
    }
    assert same_as == {"http://www.wikidata.org/entity/Q17"}
    header = _header(_page_of(site, client, japan))
    assert '<a class="wikidata" href="http://www.wikidata.org/entity/Q17"' in header

    rows = _select(
        site,
        client,
        """SELECT DISTINCT ?e ?agent ?wd WHERE { ?e a/rdfs:subClassOf* dex:Engagement ;
        ?role ?agent . ?role rdfs:subPropertyOf* dex:participant . ?agent owl:sameAs ?wd
        FILTER(STRSTARTS(STR(?wd), "http://www.wikidata.org/entity/")) }""",
    )
    assert rows
    for row in rows:
        people = _items(_section(_page_of(site, client, row["e"]), "Participants"))
        person = [p for p in people if f'href="{_link(site, row["agent"])}"' in p]
        assert len(person) == 1, row
        assert f'<a class="wikidata small" href="{row["wd"]}"' in person[0], row
