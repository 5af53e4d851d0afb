"""Hypothesis throws query strings, paths, headers and parameters at the live server.

Whatever arrives, the answer is never a 5xx other than the documented 503 (time
limit or overload), no body ever shows a Python traceback, and every answer to a
request with an Origin carries the CORS wildcard. Each run is bounded (examples and
a per-example deadline).
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from .conftest import LiveServer

SPARQL_PIECES = [
    "SELECT",
    "ASK",
    "CONSTRUCT",
    "DESCRIBE",
    "WHERE",
    "{",
    "}",
    "(",
    ")",
    "?s",
    "?p",
    "?o",
    "*",
    ".",
    ";",
    ",",
    "a",
    "<http://example.org/x>",
    "FILTER",
    "BIND",
    "AS",
    "OPTIONAL",
    "UNION",
    "GRAPH",
    "SERVICE",
    "SILENT",
    "<http://127.0.0.1:1/>",
    "LIMIT",
    "10",
    "-1",
    "ORDER BY",
    "GROUP BY",
    "COUNT(*)",
    '"x"',
    "'y'",
    '"""z"""',
    "@en",
    "^^",
    "#",
    "\\u0053",
    "PREFIX p: <http://example.org/>",
    "p:x",
    "BASE <x>",
    "VALUES",
    "UNDEF",
    "INSERT DATA",
    "DELETE",
    "LOAD",
    "CLEAR",
    "DROP",
    "<<",
    ">>",
    "\n",
    "\x00",
    "é",
    "\ud7ff",
]

queries = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(SPARQL_PIECES), max_size=25).map(" ".join),
    st.sampled_from(
        [
            "SELECT * WHERE { ?s ?p ?o } LIMIT 5",
            "ASK {}",
            "CONSTRUCT WHERE { ?s ?p ?o } LIMIT 5",
            "DESCRIBE <https://w3id.org/defence-engagements/id/country/jp>",
        ]
    ),
)
# Leading or trailing blanks are not valid header values: clients refuse to send them.
header_values = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60
).map(str.strip)
accepts = st.one_of(
    header_values,
    st.sampled_from(
        [
            "*/*",
            "text/html",
            "application/sparql-results+json;q=0.1, text/csv",
            "text/turtle",
            "application/ld+json",
            "image/png",
            "application/*;q=0",
            "text/*;q=abc",
            ";;;",
            "*/*;q=1.5",
        ]
    ),
)
content_types = st.sampled_from(
    [
        "application/sparql-query",
        "application/x-www-form-urlencoded",
        "application/sparql-update",
        "text/plain",
        "application/json",
        "multipart/form-data",
        "application/sparql-query; charset=latin-1",
        "",
    ]
)
param_values = st.one_of(
    header_values,
    st.sampled_from(["0", "-1", "1e309", "nan", "inf", "2", "0.001", "99999999999", ""]),
)
origins = st.one_of(
    header_values,
    st.sampled_from(["https://example.org", "null", "http://127.0.0.1:1", "file://", "*"]),
)
etags = st.one_of(
    header_values,
    st.sampled_from(["*", '"x"', 'W/"x"', '"a", "b"', 'W/""', '"', "*, *", ""]),
)
ranges = st.one_of(
    header_values,
    st.sampled_from(
        [
            "bytes=0-10",
            "bytes=-5",
            "bytes=10-",
            "bytes=5-1",
            "bytes=0-0,2-3,-1",
            "bytes=-0",
            "bytes=abc",
            "items=0-1",
            "bytes=99999999999999999999-",
            "bytes=0-99999999999999999999",
            "bytes=",
        ]
    ),
)
# The optional conditional/CORS/range headers, each present or not.
optional_headers = st.fixed_dictionaries(
    {}, optional={"Origin": origins, "If-None-Match": etags, "Range": ranges}
)
params = st.dictionaries(
    st.sampled_from(["timeout", "format", "default-graph-uri", "named-graph-uri", "output", "x"]),
    param_values,
    max_size=3,
)


_SEGMENTS = [
    "country",
    "person",
    "engagement",
    "quote",
    "jp",
    "us",
    "..",
    "%2e%2e",
    "%2F",
    "%00",
    ".",
    "",
    "x" * 300,
    "engagements.nt.gz",
    "engagements.ttl",
    "SHA256SUMS",
    "void.ttl",
    "jp.html",
    "jp.ttl",
    "jp.xyz",
    "jp.",
    "é",
    "..%2Fbuild.json",
    "%252e%252e",
]
segments = st.one_of(
    st.sampled_from(_SEGMENTS), st.text(max_size=40).map(lambda t: quote(t, safe=""))
)
paths = st.tuples(
    st.sampled_from(["id", "doc", "dumps"]),
    st.lists(segments, max_size=3),
    st.sampled_from(["", ".html", ".ttl", ".nt", ".jsonld", ".rdf", ".gz", "/", "?x=1"]),
).map(lambda parts: parts[0] + "".join("/" + p for p in parts[1]) + parts[2])


def allowed(answer: httpx.Response) -> bool:
    if answer.status_code < 500:
        return True
    text = answer.text.lower()
    return answer.status_code == 503 and ("time limit" in text or "busy" in text)


@pytest.mark.slow
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=st.sampled_from(["GET", "POST-form", "POST-direct"]),
    query=queries,
    accept=accepts,
    content_type=content_types,
    extra=params,
    more_headers=optional_headers,
)
def test_no_input_gets_an_undocumented_5xx_or_a_traceback(
    federating: LiveServer,
    http: httpx.Client,
    method: str,
    query: str,
    accept: str,
    content_type: str,
    extra: dict[str, str],
    more_headers: dict[str, str],
) -> None:
    headers = {"Accept": accept, **more_headers}
    url = federating.url("sparql")
    if method == "GET":
        answer = http.get(url, params={"query": query, **extra}, headers=headers)
    elif method == "POST-form":
        answer = http.post(url, data={"query": query, **extra}, headers=headers)
    else:
        body = query.encode("utf-8", "surrogatepass")
        headers["Content-Type"] = content_type
        answer = http.post(url, content=body, params=extra, headers=headers)
    assert allowed(answer), (answer.status_code, answer.text[:500])
    assert "Traceback" not in answer.text
    assert 'File "' not in answer.text
    if "Origin" in more_headers:
        assert answer.headers.get("access-control-allow-origin") == "*", answer.status_code


@settings(
    max_examples=120,
    deadline=timedelta(seconds=10),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=st.sampled_from(["GET", "HEAD"]),
    path=paths,
    accept=accepts,
    more_headers=optional_headers,
)
@example(  # several ranges: one multipart answer, a Content-Range in each part
    method="GET",
    path="dumps/engagements.nt.gz",
    accept="",
    more_headers={"Range": "bytes=0-0,2-3,-1"},
)
def test_no_path_or_header_under_id_doc_dumps_gets_a_5xx_or_a_traceback(
    live_server: LiveServer,
    http: httpx.Client,
    method: str,
    path: str,
    accept: str,
    more_headers: dict[str, str],
) -> None:
    headers = {"Accept": accept, **more_headers}
    answer = http.request(method, live_server.base_url + path, headers=headers)
    assert allowed(answer), (path, answer.status_code, answer.text[:500])
    assert "Traceback" not in answer.text
    assert 'File "' not in answer.text
    if "Origin" in more_headers:
        assert answer.headers.get("access-control-allow-origin") == "*", (path, answer.status_code)
    if answer.status_code == 206:
        if answer.headers["content-type"].startswith("multipart/byteranges"):
            # Several ranges (RFC 9110 14.6): each part says which bytes it holds.
            assert answer.text.count("Content-Range: bytes ") >= 2, answer.text[:500]
        else:
            assert answer.headers["content-range"].startswith("bytes ")
        assert int(answer.headers["content-length"]) == len(answer.content) or method == "HEAD"
    if answer.status_code == 304:
        assert answer.content == b""
