"""The SERVICE policy as a pure function: which calls a query makes, which are allowed.

No test here sends traffic anywhere but loopback: addresses are judged as literals,
and names are "resolved" by a resolver passed in as a plain function.
"""

from __future__ import annotations

import ipaddress
import time

import pytest

from defence_engagements.errors import ServiceNotAllowedError
from defence_engagements.query.service_policy import (
    ServicePolicy,
    address_refusal,
    find_service_calls,
    host_refusal,
    parse_ip_literal,
)

WIKIDATA = "https://query.wikidata.org/sparql"
TARGET = "http://example.org/sparql"


def targets(query: str) -> set[str]:
    return {call.target for call in find_service_calls(query)}


@pytest.mark.parametrize(
    "query",
    [
        f"SELECT * {{ SERVICE <{TARGET}> {{ ?s ?p ?o }} }}",
        f"select * {{ service <{TARGET}> {{ ?s ?p ?o }} }}",
        f"SELECT * {{ SERVICE SILENT <{TARGET}> {{ ?s ?p ?o }} }}",
        f"SELECT * {{ SERVICESILENT<{TARGET}>{{?s ?p ?o}} }}",
        f"SELECT * {{ SERVICE<{TARGET}>{{?s ?p ?o}} }}",
        f"SELECT * {{ SERVICE # a comment\n <{TARGET}> {{ ?s ?p ?o }} }}",
        # Code-point escapes: in the keyword (SPARQL's own reading) and in the IRI.
        f"SELECT * {{ \\u0053ERVICE <{TARGET}> {{ ?s ?p ?o }} }}",
        f"SELECT * {{ \\U00000053ERVICE <{TARGET}> {{ ?s ?p ?o }} }}",
        "SELECT * { SERVICE <http://example.org\\u002Fsparql> { ?s ?p ?o } }",
        # Prefixed names, escapes in local names, glued keywords.
        "PREFIX e: <http://example.org/> SELECT * { SERVICE e:sparql { ?s ?p ?o } }",
        "PREFIX e: <http://example.org/> SELECT * { SERVICEe:sparql { ?s ?p ?o } }",
        "PREFIX : <http://example.org/sparql> SELECT * { SERVICE : { ?s ?p ?o } }",
        # Hidden behind a '<' that is a less-than, which a naive reader takes for an IRI.
        f"SELECT * {{ ?s ?p ?o FILTER(?o<'x>') SERVICE <{TARGET}> {{ ?a ?b ?c }} }}",
        # A string that ends with an escaped quote, then the call.
        f'SELECT * {{ BIND("a\\"" AS ?x) SERVICE <{TARGET}> {{ ?s ?p ?o }} }}',
        f'SELECT * {{ BIND("""a"b""" AS ?x) SERVICE <{TARGET}> {{ ?s ?p ?o }} }}',
        # Inside EXISTS, a sub-select and a nested group.
        f"SELECT * {{ ?s ?p ?o FILTER EXISTS {{ SERVICE <{TARGET}> {{ ?s ?p ?o }} }} }}",
        f"SELECT * {{ {{ SELECT * {{ SERVICE <{TARGET}> {{ ?s ?p ?o }} }} }} }}",
        f"SELECT * {{ ?s ?p ?o .SERVICE <{TARGET}> {{ ?s ?p ?o }} }}",
    ],
)
def test_every_spelling_of_a_service_call_is_found(query: str) -> None:
    assert targets(query) == {TARGET}


@pytest.mark.parametrize(
    "query",
    [
        'SELECT * { ?s ?p "SERVICE <http://example.org/sparql> { }" }',
        "SELECT * { ?s ?p ?o } # SERVICE <http://example.org/sparql> { }",
        "SELECT ?service { ?service <http://example.org/service> ?x }",
        "SELECT * { ?s <http://www.w3.org/ns/sparql-service-description#endpoint> ?o }",
        "PREFIX sd: <http://www.w3.org/ns/sparql-service-description#> "
        "SELECT * { ?s a sd:Service ; sd:endpoint ?e }",
        "SELECT * { ?s ?p ?o FILTER(CONTAINS(STR(?o), 'Service')) }",
    ],
)
def test_the_word_service_elsewhere_is_not_a_call(query: str) -> None:
    assert targets(query) == set()


def test_a_redeclared_prefix_is_checked_with_every_value() -> None:
    query = (
        "PREFIX e: <https://query.wikidata.org/> PREFIX e: <http://127.0.0.1/> "
        "SELECT * { SERVICE e:sparql { ?s ?p ?o } }"
    )
    assert targets(query) == {WIKIDATA, "http://127.0.0.1/sparql"}
    with pytest.raises(ServiceNotAllowedError):
        ServicePolicy(allow=(WIKIDATA,)).check(query, resolver=lambda host: ["8.8.8.8"])


def test_a_variable_target_is_refused_even_if_it_is_bound_to_an_allowed_iri() -> None:
    query = f"SELECT * {{ BIND(<{WIKIDATA}> AS ?e) SERVICE ?e {{ ?s ?p ?o }} }}"
    with pytest.raises(ServiceNotAllowedError, match="variable"):
        ServicePolicy(allow=(WIKIDATA,)).check(query, resolver=lambda host: ["8.8.8.8"])


def test_an_allowed_public_endpoint_passes_and_the_message_names_refused_iris() -> None:
    policy = ServicePolicy(allow=(WIKIDATA,))
    public = lambda host: ["208.80.154.224", "2620:0:861:ed1a::1"]  # noqa: E731
    assert policy.check(f"SELECT * {{ SERVICE <{WIKIDATA}> {{ ?s ?p ?o }} }}", public) == [WIKIDATA]
    with pytest.raises(ServiceNotAllowedError) as refused:
        policy.check(f"SELECT * {{ SERVICE <{TARGET}> {{ ?s ?p ?o }} }}", public)
    assert refused.value.iri == TARGET
    assert TARGET in str(refused.value) and "allow-list" in str(refused.value)


def test_allow_list_is_exact() -> None:
    policy = ServicePolicy(allow=(WIKIDATA,))
    public = lambda host: ["208.80.154.224"]  # noqa: E731
    for near_miss in (
        WIKIDATA + "/",
        WIKIDATA + "?x=1",
        "HTTPS://query.wikidata.org/sparql",
        "https://query.wikidata.org:443/sparql",
        "http://query.wikidata.org/sparql",
    ):
        with pytest.raises(ServiceNotAllowedError):
            policy.check_iri(near_miss, public)


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "10.255.255.255",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.1",
        "100.64.0.1",
        "127.0.0.1",
        "127.0.0.2",
        "127.255.255.254",
        "169.254.0.1",
        "169.254.169.254",
        "0.0.0.0",
        "224.0.0.1",
        "239.255.255.250",
        "255.255.255.255",
        "198.18.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",
        "fd12:3456::1",
        "ff02::1",
        "fec0::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::",
        "::127.0.0.1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "208.80.154.224", "2620:0:861:ed1a::1", "1.1.1.1", "172.32.0.1"]
)
def test_public_addresses_pass(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("spelling", "meaning"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0x7F.0.0.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("2852039166", "169.254.169.254"),
        ("[::ffff:7f00:1]", "127.0.0.1"),
    ],
)
def test_numeric_spellings_of_addresses_are_understood(spelling: str, meaning: str) -> None:
    parsed = parse_ip_literal(spelling)
    assert parsed is not None
    mapped = getattr(parsed, "ipv4_mapped", None) or parsed
    assert str(mapped) == meaning
    assert host_refusal(spelling, resolver=_no_resolving) is not None


def _no_resolving(host: str) -> list[str]:
    raise AssertionError(f"{host} should have been judged without resolving")


def test_names_are_judged_by_every_address_they_resolve_to() -> None:
    answers = {
        "public.test": ["208.80.154.224"],
        "sneaky.test": ["208.80.154.224", "10.1.2.3"],
        "metadata.test": ["169.254.169.254"],
        "v6local.test": ["fd00::5"],
        "nothing.test": [],
    }
    resolver = answers.__getitem__
    assert host_refusal("public.test", resolver) is None
    assert "10.1.2.3" in (host_refusal("sneaky.test", resolver) or "")
    assert "metadata" in (host_refusal("metadata.test", resolver) or "")
    assert "unique-local" in (host_refusal("v6local.test", resolver) or "")
    assert host_refusal("nothing.test", resolver) is not None

    def failing(host: str) -> list[str]:
        raise OSError("Name or service not known")

    assert "does not resolve" in (host_refusal("gone.test", failing) or "")


def test_an_allow_listed_name_that_resolves_privately_is_refused_unless_allowed() -> None:
    iri = "http://internal.test/sparql"
    query = f"SELECT * {{ SERVICE <{iri}> {{ ?s ?p ?o }} }}"
    private = lambda host: ["192.168.0.10"]  # noqa: E731
    with pytest.raises(ServiceNotAllowedError, match="private"):
        ServicePolicy(allow=(iri,)).check(query, private)
    assert ServicePolicy(allow=(iri,), allow_private=True).check(query, private) == [iri]


def test_only_http_endpoints_with_absolute_iris() -> None:
    policy = ServicePolicy(allow=("file:///etc/passwd", "relative/sparql"))
    with pytest.raises(ServiceNotAllowedError, match="http"):
        policy.check_iri("file:///etc/passwd", lambda host: ["8.8.8.8"])
    with pytest.raises(ServiceNotAllowedError, match="absolute"):
        policy.check_iri("relative/sparql", lambda host: ["8.8.8.8"])


@pytest.mark.parametrize(
    "hostile",
    [
        "<a#'>" * 20_000,  # every '<' read both ways, each reading a comment to the line end
        "<a'b>" * 20_000,
        "SERVICE#x\n" * 10_000,
        '"a' * 50_000,
        "\\" * 100_000,
        "\\u0053ERVICE <http://x/> {}" * 4_000,
    ],
)
def test_reading_stays_linear_on_hostile_100k_queries(hostile: str) -> None:
    started = time.monotonic()
    find_service_calls(hostile)
    assert time.monotonic() - started < 2.0
