"""`engagements watch` as a user runs it: it builds, then rebuilds as files are edited,
added, removed or broken, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import IO

import pytest
from pipeline_support import tree_env

from defence_engagements.settings import Settings
from defence_engagements.store import read_manifest


@pytest.fixture
def watcher(tree: Settings) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "defence_engagements", "watch"],
        cwd=tree.repo_root,
        env={**os.environ, **tree_env(tree)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


class _Reader:
    """A pipe's lines, read by a thread as they come."""

    def __init__(self, stream: IO[str] | None) -> None:
        assert stream is not None
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in iter(stream.readline, ""):
            self.lines.append(line)

    def text(self, *, wait: float = 0) -> str:
        """What was read so far; with ``wait``, once the pipe closed (or that many s)."""
        if wait:
            self._thread.join(wait)
        return "".join(self.lines)


def _until(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s: {what}")


def _manifest(tree: Settings) -> dict[str, object]:
    try:
        return read_manifest(tree.current_build.resolve())
    except Exception:  # no build yet, or one being switched
        return {}


def _published(tree: Settings, name: str, body: bytes | None) -> Callable[[], bool]:
    """Whether the current build's inputs hold ``name`` with ``body`` (None: not at all)."""

    def check() -> bool:
        inputs = _manifest(tree).get("inputs")
        if not isinstance(inputs, dict):
            return False
        if body is None:
            return name not in inputs
        return inputs.get(name) == hashlib.sha256(body).hexdigest()

    return check


def test_watch_rebuilds_as_files_change_and_stops_on_ctrl_c(
    tree: Settings, watcher: subprocess.Popen[str]
) -> None:
    # Read as they come: a build is published before the watcher reports it, so Ctrl-C
    # is sent only once every build has been reported.
    stdout, stderr = _Reader(watcher.stdout), _Reader(watcher.stderr)
    engagements = tree.data_path / "engagements"
    second = engagements / "second-meeting.ttl"
    _until(_published(tree, "data/engagements/second-meeting.ttl", second.read_bytes()), "built")
    first_version = _manifest(tree)["version"]

    # An edit: the changed file alone is hashed again, and the build revises the last.
    edited = second.read_bytes().replace(b'"Second meeting"@en', b'"Second meeting, watched"@en')
    assert edited != second.read_bytes()
    second.write_bytes(edited)
    _until(_published(tree, "data/engagements/second-meeting.ttl", edited), "the edit built")
    assert _manifest(tree)["version"] != first_version
    assert _manifest(tree)["reasoning"] == "revision"

    # A new file in a new directory (the directory's event lists everything again).
    (engagements / "2026").mkdir()
    added = engagements / "2026" / "copy.ttl"
    added.write_bytes((engagements / "first-meeting.ttl").read_bytes())
    _until(_published(tree, "data/engagements/2026/copy.ttl", added.read_bytes()), "added")
    assert _manifest(tree)["files"]["data"] == 5  # type: ignore[index]

    # A file that does not parse: reported with its line, the published build stays.
    before = _manifest(tree)["version"]
    broken = engagements / "broken.ttl"
    broken.write_text("@prefix ex: <http://example.org/> .\nex:a ex:b .\n", encoding="utf-8")
    time.sleep(3)
    assert _manifest(tree)["version"] == before
    # …and once it is gone, so is the copy: the build is the tree's again.
    broken.unlink()
    added.unlink()
    (engagements / "2026").rmdir()
    _until(_published(tree, "data/engagements/2026/copy.ttl", None), "removed")
    assert _manifest(tree)["files"]["data"] == 4  # type: ignore[index]

    _until(lambda: stdout.text().count("built ") >= 4, "every build reported")
    watcher.send_signal(signal.SIGINT)
    watcher.wait(timeout=30)
    out, err = stdout.text(wait=30), stderr.text(wait=30)
    assert watcher.returncode == 0, err
    assert "Traceback" not in err
    assert "broken.ttl:2" in err  # the parse error, at its line
    assert out.count("built ") >= 4
    assert (tree.build_path / "cache" / "hashes.json").is_file()


def test_the_listing_kept_by_events_is_the_listing_made_anew(tree: Settings) -> None:
    """Files edited, added and removed, told one path each (or a directory): the
    listing the watcher keeps is what listing every file gives; a file that cannot be
    read is an error the watch reports, not the end of it."""
    from defence_engagements import pipeline
    from defence_engagements.errors import EngagementsError
    from defence_engagements.pipeline.watch import SourceListing

    listing = SourceListing(tree)
    engagements = tree.data_path / "engagements"
    template = (engagements / "first-meeting.ttl").read_bytes()
    touched = []
    for n in range(30):  # new files, in sorted and unsorted places
        path = engagements / f"{'a' if n % 2 else 'z'}-{n:02d}.ttl"
        path.write_bytes(template + f"# {n}\n".encode())
        touched.append(path)
    (engagements / "second-meeting.ttl").write_bytes(template + b"# edited\n")
    touched.append(engagements / "second-meeting.ttl")
    (engagements / "a-03.ttl").unlink()
    listing.take(str(p) for p in touched)
    assert listing.files == pipeline.source_files(tree)

    (engagements / "sub").mkdir()
    (engagements / "sub" / "x.ttl").write_bytes(template)
    listing.take([str(engagements / "sub")])  # a directory: everything listed again
    assert listing.files == pipeline.source_files(tree)

    dangling = engagements / "gone.ttl"
    dangling.symlink_to(engagements / "nowhere.ttl")
    with pytest.raises(EngagementsError):
        listing.take([str(dangling)])


def test_an_edit_made_while_the_first_build_runs_is_built_next(tree: Settings) -> None:
    """The watch is in place before the files are listed: an edit made during the
    first build (here, as its validation starts) comes as the next batch."""

    from defence_engagements.pipeline.watch import watch_sources

    second = tree.data_path / "engagements" / "second-meeting.ttl"
    edited = second.read_bytes().replace(b'"Second meeting"@en', b'"Second meeting, mid-build"@en')
    assert edited != second.read_bytes()

    class EditDuringFirstBuild:
        edits = 0

        def start(self, step: str, total: int | None) -> None:
            if step == "validate" and not self.edits:
                self.edits += 1
                second.write_bytes(edited)

        def advance(self, amount: int = 1) -> None:
            pass

        def finish(self, step: str, seconds: float) -> None:
            pass

    stop = threading.Event()
    results = watch_sources(tree, progress=EditDuringFirstBuild(), stop=stop)
    first = next(results)
    assert not isinstance(first, Exception), first
    assert not _published(tree, "data/engagements/second-meeting.ttl", edited)()
    timer = threading.Timer(60, stop.set)  # a missed edit ends the watch: no hang
    timer.start()
    try:
        second_result = next(results, None)
    finally:
        timer.cancel()
        stop.set()
        results.close()
    assert second_result is not None, "the edit made during the first build was missed"
    assert not isinstance(second_result, Exception), second_result
    assert _published(tree, "data/engagements/second-meeting.ttl", edited)()


def test_a_source_directory_that_is_missing_is_a_clear_error(tree: Settings) -> None:
    import shutil

    shutil.rmtree(tree.shapes_path)
    done = subprocess.run(
        [sys.executable, "-m", "defence_engagements", "watch"],
        cwd=tree.repo_root,
        env={**os.environ, **tree_env(tree)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert f"cannot watch {tree.shapes_path}: no such directory" in done.stderr


@pytest.mark.parametrize("big", [True, False], ids=["big graphs", "small graphs"])
def test_after_a_build_the_watch_starts_the_workers_a_rebuild_will_want(
    tree: Settings, monkeypatch: pytest.MonkeyPatch, big: bool
) -> None:
    """The dump workers a rebuild patches big dumps in are started once a build is
    handed over, not by the next edit's rebuild; for small graphs, none."""

    from defence_engagements.pipeline import dumps
    from defence_engagements.pipeline.watch import watch_sources

    kept: list[object] = []
    monkeypatch.setattr(dumps, "_kept_workers", kept)
    if big:
        monkeypatch.setattr(dumps, "PARALLEL_DUMPS_BYTES", -1)
    stop = threading.Event()
    results = watch_sources(tree, stop=stop)
    try:
        first = next(results)
        assert not isinstance(first, Exception), first
        assert first.manifest["reasoning"] == "closure"
        assert not kept  # a full build writes its dumps with workers of its own
        stop.set()
        assert next(results, None) is None
        assert len(kept) == (1 if big else 0)
        if big:
            assert dumps.kept_workers() is kept[0]  # alive, and the one a rebuild takes
    finally:
        stop.set()
        results.close()
        for pool in kept:
            pool.shutdown()  # type: ignore[attr-defined]
