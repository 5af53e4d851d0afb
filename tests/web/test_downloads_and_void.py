"""/dumps/ (files, HTML and DCAT index, caching, ranges) and /.well-known/void."""

from __future__ import annotations

import gzip
import hashlib

import pyoxigraph
import pytest
import rdflib

from defence_engagements.dump_files import DumpFile, dumps_in

VOID = rdflib.Namespace("http://rdfs.org/ns/void#")
DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")
GRAPHS = {
    name: f"https://w3id.org/defence-engagements/graph/{name}"
    for name in ("ontology", "data", "inferred", "links", "metadata")
}
METADATA = GRAPHS["metadata"]
CONTENT = tuple(GRAPHS[g] for g in ("ontology", "data", "inferred", "links"))
CONTENT_NAMES = ("ontology", "inferred", "links")  # the content graphs besides the data
# Each dump file → the named graphs it holds.
DUMP_GRAPHS: dict[str, tuple[str, ...]] = {
    "engagements.ttl": (GRAPHS["data"],),
    "engagements.jsonld": (GRAPHS["data"],),
    "engagements-inferred.ttl": (GRAPHS["data"], GRAPHS["inferred"]),
    "engagements.nt.gz": CONTENT,
    "engagements.nq.gz": (*CONTENT, METADATA),
    "ontology.ttl": (GRAPHS["ontology"],),
    "ontology.rdf": (GRAPHS["ontology"],),
    "ontology.jsonld": (GRAPHS["ontology"],),
    "links.ttl": (GRAPHS["links"],),
    "links.nt.gz": (GRAPHS["links"],),
    "void.ttl": (METADATA,),
}
_PARSERS = {
    ".ttl": pyoxigraph.RdfFormat.TURTLE,
    ".nt": pyoxigraph.RdfFormat.N_TRIPLES,
    ".nq": pyoxigraph.RdfFormat.N_QUADS,
    ".jsonld": pyoxigraph.RdfFormat.JSON_LD,
    ".rdf": pyoxigraph.RdfFormat.RDF_XML,
}


@pytest.fixture(scope="module")
def dump_names(build_root) -> list[str]:
    names = sorted(d.name for d in dumps_in(build_root / "dumps"))
    assert "SHA256SUMS" in names and len(names) > 3
    return names


def _count(site, client, query: str) -> int:
    rows = client.get(site.url("sparql"), params={"query": query}).json()
    return int(rows["results"]["bindings"][0]["n"]["value"])


def test_every_dump_is_served_whole_with_validators(site, client, build_root, dump_names):
    sums = dict(
        reversed(line.decode().split())
        for line in DumpFile.of(build_root / "dumps" / "SHA256SUMS").read_bytes().splitlines()
    )
    for name in dump_names:
        response = client.get(site.url(f"dumps/{name}"))
        assert response.status_code == 200
        body = response.content
        assert int(response.headers["content-length"]) == len(body)
        assert body == DumpFile.of(build_root / "dumps" / name).read_bytes()
        assert response.headers["etag"] and response.headers["last-modified"]
        assert response.headers["accept-ranges"] == "bytes"
        assert "content-encoding" not in response.headers
        if name in sums:
            assert hashlib.sha256(body).hexdigest() == sums[name]


def test_dumps_revalidate_with_304(site, client, dump_names):
    url = site.url(f"dumps/{dump_names[0]}")
    first = client.get(url)
    by_etag = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    by_date = client.get(url, headers={"If-Modified-Since": first.headers["last-modified"]})
    assert by_etag.status_code == by_date.status_code == 304
    assert by_etag.content == b""
    changed = client.get(url, headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200


def test_range_requests_resume_a_download(site, client, build_root, dump_names):
    name = max(dump_names, key=lambda n: DumpFile.of(build_root / "dumps" / n).size)
    whole = DumpFile.of(build_root / "dumps" / name).read_bytes()
    url = site.url(f"dumps/{name}")
    part = client.get(url, headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206
    assert part.content == whole[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(whole)}"
    tail = client.get(url, headers={"Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.content == whole[-50:]
    beyond = client.get(url, headers={"Range": f"bytes={len(whole) + 10}-"})
    assert beyond.status_code == 416


def test_ranges_across_a_dumps_pieces_are_the_files_bytes(site, client, build_root, dump_names):
    """A dump is served from its pieces (dump_files): ranges that start, end or cross
    where one piece meets the next, and several ranges at once, read as the whole."""
    dumps = [DumpFile.of(build_root / "dumps" / n) for n in dump_names]
    dump = max(dumps, key=lambda d: len(d.names))
    assert len(dump.names) >= 2
    whole = dump.read_bytes()
    assert len(whole) == dump.size and hashlib.sha256(whole).hexdigest() == dump.sha256
    url = site.url(f"dumps/{dump.name}")
    seam = dump.sizes[0]  # where the second piece starts
    for first, last in ((seam - 5, seam + 5), (seam, seam), (seam - 1, seam - 1), (0, seam)):
        part = client.get(url, headers={"Range": f"bytes={first}-{last}"})
        assert part.status_code == 206
        assert part.content == whole[first : last + 1], (first, last)
    both = client.get(url, headers={"Range": f"bytes=0-3,{seam - 2}-{seam + 2}"})
    assert both.status_code == 206
    assert both.headers["content-type"].startswith("multipart/byteranges")
    assert whole[0:4] in both.content and whole[seam - 2 : seam + 3] in both.content
    head = client.head(url)
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(whole)


def test_unknown_dumps_and_path_tricks_get_404(site, client):
    for name in ("nope.ttl", "..%2Fbuild.json", "%2E%2E%2Fbuild.json"):
        assert client.get(site.url(f"dumps/{name}")).status_code == 404


def _graphs_count(site, client, graphs: tuple[str, ...]) -> int:
    """Distinct triples over the union of ``graphs``, counted by the endpoint."""
    values = " ".join(f"<{g}>" for g in graphs)
    query = (
        "SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?p ?o WHERE "
        f"{{ VALUES ?g {{ {values} }} GRAPH ?g {{ ?s ?p ?o }} }} }}"
    )
    return _count(site, client, query)


def _statements(path) -> list:  # type: ignore[no-untyped-def,type-arg]
    data = DumpFile.of(path).read_bytes()
    stem = path.name.removesuffix(".gz")
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return list(pyoxigraph.parse(data, format=_PARSERS["." + stem.rsplit(".", 1)[-1]]))


def test_the_dump_table_names_every_rdf_file_served(dump_names):
    rdf = {n for n in dump_names if "." + n.removesuffix(".gz").rsplit(".", 1)[-1] in _PARSERS}
    assert rdf == set(DUMP_GRAPHS)
    assert set(dump_names) - rdf == {"SHA256SUMS"}


@pytest.mark.parametrize("name", sorted(DUMP_GRAPHS))
def test_each_dump_holds_exactly_its_graphs(site, client, build_root, name):
    graphs = DUMP_GRAPHS[name]
    statements = _statements(build_root / "dumps" / name)
    assert statements, name
    if name.endswith(".nq.gz"):  # quads: each graph whole, under its own name
        assert {str(q.graph_name.value) for q in statements} == set(graphs)
        for graph in graphs:
            in_dump = sum(1 for q in statements if str(q.graph_name.value) == graph)
            assert in_dump == _graphs_count(site, client, (graph,)), (name, graph)
        return
    triples = [q.triple for q in statements]
    # Every triple once (no duplicates), and as many as the union of its graphs.
    assert len(triples) == len(set(map(str, triples))), name
    assert len(triples) == _graphs_count(site, client, graphs), name
    # …and not the same number by chance: the other graph sets count differently.
    others = {gs for gs in DUMP_GRAPHS.values() if gs != graphs}
    assert all(_graphs_count(site, client, gs) != len(triples) for gs in others), name


def _only_in(site, client, graph: str) -> set[str]:
    """Some triples (without blank nodes) of ``graph`` that no other graph holds."""
    query = (
        f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} "
        "FILTER(!isBlank(?s) && !isBlank(?o)) "
        f"FILTER NOT EXISTS {{ GRAPH ?other {{ ?s ?p ?o }} FILTER(?other != <{graph}>) }} "
        "} LIMIT 50"
    )
    response = client.get(
        site.url("sparql"), params={"query": query}, headers={"Accept": "application/n-triples"}
    )
    assert response.status_code == 200
    return {str(t) for t in pyoxigraph.parse(response.content, format=_PARSERS[".nt"])}


def test_data_dumps_hold_neither_ontology_nor_inferred_triples(site, client, build_root):
    ontology, inferred, links = (_only_in(site, client, GRAPHS[g]) for g in CONTENT_NAMES)
    assert ontology and inferred and links
    for name in ("engagements.ttl", "engagements.jsonld"):
        triples = {str(q.triple) for q in _statements(build_root / "dumps" / name)}
        assert not (triples & (ontology | inferred | links)), name
    with_inferences = {
        str(q.triple) for q in _statements(build_root / "dumps" / "engagements-inferred.ttl")
    }
    assert inferred <= with_inferences and not (with_inferences & (ontology | links))


def test_dumps_index_in_html_and_dcat(site, client, dump_names):
    page = client.get(site.url("dumps/"), headers={"Accept": "text/html"})
    assert page.status_code == 200
    for name in dump_names:
        assert f'href="{site.url("dumps/" + name)}"' in page.text
    dcat = client.get(site.url("dumps/"), headers={"Accept": "text/turtle"})
    graph = rdflib.Graph().parse(data=dcat.text, format="turtle")
    urls = {str(o) for o in graph.objects(None, DCAT.downloadURL)}
    assert urls == {site.url(f"dumps/{name}") for name in dump_names}
    for distribution in graph.subjects(rdflib.RDF.type, DCAT.Distribution):
        assert graph.value(distribution, DCAT.byteSize) is not None
        assert graph.value(distribution, DCAT.mediaType) is not None


@pytest.fixture(scope="module")
def void_graph(site, client) -> rdflib.Graph:
    response = client.get(site.url(".well-known/void"), headers={"Accept": "text/turtle"})
    assert response.status_code == 200
    return rdflib.Graph().parse(data=response.text, format="turtle")


def test_void_names_this_server_and_its_dump_links_resolve(site, client, void_graph):
    endpoints = set(void_graph.objects(None, VOID.sparqlEndpoint))
    assert rdflib.URIRef(site.url("sparql")) in endpoints
    dumps = {str(o) for o in void_graph.objects(None, VOID.dataDump)}
    # Only RDF dumps of the dataset: not the checksum list, not the description itself.
    holding_content = {n for n, graphs in DUMP_GRAPHS.items() if set(graphs) & set(CONTENT)}
    assert dumps == {site.url(f"dumps/{name}") for name in holding_content}
    assert site.url("dumps/SHA256SUMS") not in dumps
    assert site.url("dumps/void.ttl") not in dumps
    for url in dumps:
        assert url.startswith(site.base_url), url
        assert client.head(url).status_code == 200, url


def test_void_in_every_rdf_format(site, client):
    for accept, fmt in [("application/ld+json", "json-ld"), ("application/rdf+xml", "xml")]:
        response = client.get(site.url(".well-known/void"), headers={"Accept": accept})
        assert response.headers["content-type"].startswith(accept)
        assert len(rdflib.Graph().parse(data=response.text, format=fmt)) > 50


def test_void_for_a_browser_is_turtle_and_for_an_image_client_406(site, client):
    shown = client.get(site.url(".well-known/void"), headers={"Accept": "text/html"})
    assert shown.status_code == 200
    assert shown.headers["content-type"].startswith("text/turtle")
    assert len(rdflib.Graph().parse(data=shown.text, format="turtle")) > 50
    refused = client.get(site.url(".well-known/void"), headers={"Accept": "image/png"})
    assert refused.status_code == 406
    assert "Turtle" in refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")


def test_void_counts_equal_count_queries(site, client, void_graph):
    not_metadata = f"FILTER(?g != <{METADATA}>)"
    dataset = next(void_graph.subjects(VOID.sparqlEndpoint, rdflib.URIRef(site.url("sparql"))))
    triples = int(void_graph.value(dataset, VOID.triples))
    query = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?s ?p ?o }} {not_metadata} }}"
    assert triples == _count(site, client, query)
    partitions = list(void_graph.objects(dataset, VOID.classPartition))
    assert partitions
    for partition in partitions:
        cls = void_graph.value(partition, VOID["class"])
        entities = int(void_graph.value(partition, VOID.entities))
        query = "SELECT (COUNT(DISTINCT ?s) AS ?n) " + (
            f"WHERE {{ GRAPH ?g {{ ?s a <{cls}> }} {not_metadata} }}"
        )
        assert entities == _count(site, client, query), cls
    for partition in list(void_graph.objects(dataset, VOID.propertyPartition))[:25]:
        prop = void_graph.value(partition, VOID.property)
        count = int(void_graph.value(partition, VOID.triples))
        query = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?s <{prop}> ?o }} {not_metadata} }}"
        assert count == _count(site, client, query), prop
