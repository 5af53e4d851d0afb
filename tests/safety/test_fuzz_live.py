"""Hypothesis throws query strings, headers and parameters at the live server.

Whatever arrives, the answer is never a 5xx other than the documented 503 (time
limit or overload), and no body ever shows a Python traceback.
"""

from __future__ import annotations

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
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
params = st.dictionaries(
    st.sampled_from(["timeout", "format", "default-graph-uri", "named-graph-uri", "output", "x"]),
    param_values,
    max_size=3,
)


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
)
def test_no_input_gets_an_undocumented_5xx_or_a_traceback(
    federating: LiveServer,
    http: httpx.Client,
    method: str,
    query: str,
    accept: str,
    content_type: str,
    extra: dict[str, str],
) -> None:
    headers = {"Accept": accept}
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
