"""A new published build is served without a restart; ETags change with it."""

from __future__ import annotations

import httpx

from .conftest import W3C_PROTOCOL
from .tiny_build import publish_graphs_build

COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


def _count(client: httpx.Client, server) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    response = client.get(server.url("sparql"), params={"query": COUNT})
    assert response.status_code == 200
    return int(response.json()["results"]["bindings"][0]["n"]["value"]), response.headers["etag"]


def test_a_new_build_is_picked_up_without_restart(tmp_path, root_helpers):
    graph = "http://example.org/graph"
    publish_graphs_build(tmp_path, {graph: [W3C_PROTOCOL / "data1.nt"]}, build_id="b1")
    server = root_helpers.start_server(tmp_path, log=tmp_path / "server.log")
    try:
        with httpx.Client(timeout=30) as client:
            first, first_etag = _count(client, server)
            version = client.get(server.url("version")).json()["version"]
            publish_graphs_build(
                tmp_path,
                {graph: [W3C_PROTOCOL / "data1.nt", W3C_PROTOCOL / "data2.nt"]},
                build_id="b2",
            )
            second, second_etag = _count(client, server)
            assert second > first
            assert second_etag != first_etag
            assert client.get(server.url("version")).json()["version"] != version
            stale = client.get(
                server.url("sparql"), params={"query": COUNT}, headers={"If-None-Match": first_etag}
            )
            assert stale.status_code == 200
    finally:
        root_helpers.stop_server(server)
    assert server.process.returncode is not None
