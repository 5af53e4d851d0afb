"""A new published build is served without a restart; ETags change with it."""

from __future__ import annotations

import json
import threading
import time

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


def _manifest_total(build_dir, build_id: str) -> int:  # type: ignore[no-untyped-def]
    manifest = json.loads((build_dir / "builds" / build_id / "build.json").read_text())
    return sum(manifest["graphs"].values())


def test_queries_running_through_a_switch_all_succeed(tmp_path, root_helpers):
    """Light queries keep arriving from a few threads while a new build is published:
    every one gets 200 with the old or the new count, and the new build is then served."""
    graph = "http://example.org/graph"
    publish_graphs_build(tmp_path, {graph: [W3C_PROTOCOL / "data1.nt"]}, build_id="b1")
    server = root_helpers.start_server(tmp_path, log=tmp_path / "server.log")
    old = _manifest_total(tmp_path, "b1")
    stop = threading.Event()
    answers: list[tuple[int, int | None, float]] = []  # status, count, time
    failures: list[BaseException] = []
    lock = threading.Lock()

    def ask() -> None:
        try:
            with httpx.Client(timeout=30) as client:
                for _ in range(400):  # bounded even if the switch never comes
                    if stop.is_set():
                        return
                    response = client.get(server.url("sparql"), params={"query": COUNT})
                    n = None
                    if response.status_code == 200:
                        n = int(response.json()["results"]["bindings"][0]["n"]["value"])
                    with lock:
                        answers.append((response.status_code, n, time.monotonic()))
        except BaseException as error:  # reported by the main thread
            failures.append(error)

    threads = [threading.Thread(target=ask, daemon=True) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while len(answers) < 20 and time.monotonic() < deadline:
            time.sleep(0.02)
        publish_graphs_build(
            tmp_path,
            {graph: [W3C_PROTOCOL / "data1.nt", W3C_PROTOCOL / "data2.nt"]},
            build_id="b2",
        )
        switched = time.monotonic()
        new = _manifest_total(tmp_path, "b2")
        assert new != old
        # Keep asking until a good number of answers came after the switch.
        while time.monotonic() < deadline and sum(1 for *_, t in answers if t > switched) < 40:
            time.sleep(0.02)
        stop.set()
        for thread in threads:
            thread.join(timeout=35)
        assert not failures, failures
        assert not any(thread.is_alive() for thread in threads)
        statuses = {status for status, _, _ in answers}
        assert statuses == {200}, statuses
        counts = [n for _, n, _ in answers]
        assert set(counts) <= {old, new}
        assert counts.count(old) >= 20 and new in counts
        assert all(n == new for _, n, t in answers if t > switched + 2), "old build after 2 s"
        with httpx.Client(timeout=30) as client:
            assert _count(client, server)[0] == new
            assert client.get(server.url("version")).json()["version"] == "b2"
    finally:
        stop.set()
        root_helpers.stop_server(server)
