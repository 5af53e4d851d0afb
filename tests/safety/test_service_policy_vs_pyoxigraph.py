"""The policy reader against pyoxigraph itself: whatever SERVICE call pyoxigraph
really makes, the policy must have found first.

Queries are assembled from fragments chosen to confuse a reader (strings holding
quotes and keywords, comments, '<' as less-than, escapes, glued keywords, prefixed
names) and run by pyoxigraph on an in-memory store against a recording SPARQL
stand-in on loopback. Every request the stand-in receives must be for an IRI that
``find_service_calls`` reported for that query.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pyoxigraph
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from defence_engagements.query.service_policy import find_service_calls


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []  # noqa: RUF012

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).hits.append(self.path)
        body = json.dumps(
            {
                "head": {"vars": ["z"]},
                "results": {"bindings": [{"z": {"type": "literal", "value": "1"}}]},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/sparql-results+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def stand_in() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _service_spellings(base: str) -> list[str]:
    return [
        f"SERVICE <{base}/a> {{ ?s ?p ?z }}",
        f"service silent <{base}/b> {{ ?s ?p ?z }}",
        f"SERVICESILENT<{base}/c>{{?s ?p ?z}}",
        f"SERVICE <{base}\\u002Fd> {{ ?s ?p ?z }}",
        "SERVICE e:f { ?s ?p ?z }",
        "SERVICEe:g{?s ?p ?z}",
        "SERVICE :h { ?s ?p ?z }",
        f"SERVICE #x\n<{base}/i> {{ ?s ?p ?z }}",
        f"\\u0053ERVICE <{base}/j> {{ ?s ?p ?z }}",
    ]


_NOISE = [
    "?s ?p ?o .",
    "FILTER(?o<'x>')",
    "FILTER(?o < 'y')",
    "FILTER(?o>'SERVICE <http://127.0.0.1:9/> {}')",
    'BIND("a\\"" AS ?q1)',
    "BIND('''x'y''' AS ?q2)",
    'BIND("""SERVICE <http://127.0.0.1:9/z> { }""" AS ?q3)',
    "# SERVICE <http://127.0.0.1:9/comment> {}\n",
    "FILTER(?o != <http://example.org/service#x>)",
    "OPTIONAL { ?s ?p ?o2 }",
    "'",
    '"',
    "#",
    "<",
    ">",
    "{",
    "}",
    ".",
    "\n",
]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_pyoxigraph_never_calls_a_service_the_policy_did_not_see(
    stand_in: str, data: st.DataObject
) -> None:
    pieces = data.draw(
        st.lists(st.sampled_from(_NOISE + _service_spellings(stand_in)), min_size=1, max_size=6)
    )
    prologue = f"PREFIX e: <{stand_in}/> PREFIX : <{stand_in}/> "
    query = prologue + "SELECT * { ?s ?p ?o " + " ".join(pieces) + " }"
    store = pyoxigraph.Store()
    store.add(
        pyoxigraph.Quad(
            pyoxigraph.NamedNode("http://example.org/s"),
            pyoxigraph.NamedNode("http://example.org/p"),
            pyoxigraph.Literal("o"),
        )
    )
    found = {call.target for call in find_service_calls(query)}
    _Recorder.hits.clear()
    try:
        result = store.query(query)
        if isinstance(result, pyoxigraph.QuerySolutions):
            list(result)
    except (SyntaxError, OSError, RuntimeError, ValueError):
        pass
    called = {stand_in + path for path in _Recorder.hits}
    assert called <= found, f"pyoxigraph called {called - found} unseen in {query!r}"


def test_the_stand_in_does_record_calls(stand_in: str) -> None:
    """The property above is only meaningful if calls are really made and recorded."""
    _Recorder.hits.clear()
    store = pyoxigraph.Store()
    list(store.query(f"SELECT * {{ SERVICE <{stand_in}/probe> {{ ?s ?p ?z }} }}"))
    assert _Recorder.hits == ["/probe"]
