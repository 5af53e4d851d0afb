"""Build suite: full builds at several sizes, a rebuild after one changed file, memory.

``python -m benchmarks build [--sizes 1000,10000] [--runs 3]``

Each build is ``engagements build`` in a fresh process on a generated tree
(the tree's own ontology/, shapes/ and data/, its own build directory), timed
from outside; peak memory is the largest process's maximum resident set
(``wait4``) and the summed resident memory of the build and its child process
(sampled every 50 ms: the working store lives in a child). Per-step seconds
come from the build's ``build.json``. After the full builds, one engagement
file is edited (its label) and the build is run again: the incremental rebuild
time; then once more unchanged: the no-op. Last, ``engagements watch`` runs on the
tree and the same edit is made again: the seconds from the edit until ``current``
points at the new build (what a user adding engagements with a watcher waits).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks import trees
from benchmarks.measure import median, write_results

ENGAGEMENTS = str(Path(sys.executable).parent / "engagements")


def timed_build(tree: Path, build_dir: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "ENGAGEMENTS_REPO_ROOT": str(tree),
        "ENGAGEMENTS_BUILD_DIR": str(build_dir),
    }
    started = time.perf_counter()
    process = subprocess.Popen(
        [ENGAGEMENTS, "--quiet", "build"],
        cwd=tree,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    sampler = TreeMemory(process.pid)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    sampler.stop()
    stderr = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"build failed in {tree}: {stderr[-2000:]}")
    manifest = json.loads((build_dir / "current" / "build.json").read_text())
    return {
        "seconds": seconds,
        "peak_mb": usage.ru_maxrss / 1024,  # the largest single process
        "peak_tree_mb": sampler.peak_kb / 1024,  # all its processes together (sampled)
        "steps": manifest.get("timings", {}),
        "reasoning": manifest.get("reasoning"),  # closure, revision or cache
        # all processes together, sampled, while each step ran
        "step_peak_tree_mb": sampler.peak_mb_by_step(manifest.get("timeline", {})),
        "graphs": manifest.get("graphs", {}),
    }


def timed_watch(tree: Path, build_dir: Path, rounds: list[int]) -> list[float]:
    """`engagements watch` on the tree: for each round, one engagement file edited and
    the seconds until `current` points at a new build (polled every 5 ms)."""
    env = {
        **os.environ,
        "ENGAGEMENTS_REPO_ROOT": str(tree),
        "ENGAGEMENTS_BUILD_DIR": str(build_dir),
    }
    process = subprocess.Popen(
        [ENGAGEMENTS, "watch"],
        cwd=tree,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    current = build_dir / "current"
    seconds = []
    try:
        assert process.stdout is not None
        process.stdout.readline()  # the first build (or "nothing changed"): watching now
        time.sleep(1)  # the watcher's inotify watches in place
        for round_number in rounds:
            before = os.readlink(current)
            touch_one_engagement(tree, round_number)
            started = time.perf_counter()
            while os.readlink(current) == before:
                if time.perf_counter() - started > 120:
                    raise RuntimeError("no new build within 120 s")
                time.sleep(0.005)
            seconds.append(time.perf_counter() - started)
            process.stdout.readline()  # its report: the build is done
            time.sleep(1)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    return seconds


class TreeMemory(threading.Thread):
    """Samples the summed resident memory of a process and its descendants (Linux
    /proc), every 50 ms: the build runs its working store in a child process, and
    ``wait4`` reports only the largest single process."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kb = 0
        self.samples: list[tuple[float, int]] = []  # (Unix time, kB)
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.05):
            kb = sum(_rss_kb(p) for p in _tree(self.pid))
            self.samples.append((time.time(), kb))
            self.peak_kb = max(self.peak_kb, kb)

    def peak_mb_by_step(self, timeline: dict[str, list[float]]) -> dict[str, float]:
        """The highest sample inside each step's window (the build's ``timeline``)."""
        return {
            step: max((kb for at, kb in self.samples if start <= at <= end), default=0) / 1024
            for step, (start, end) in timeline.items()
        }

    def stop(self) -> None:
        self._done.set()
        self.join()


def _tree(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def touch_one_engagement(tree: Path, round_number: int) -> Path:
    target = sorted((tree / "data" / "engagements").glob("*.ttl"))[0]
    text = target.read_text(encoding="utf-8")
    # A new label every round (an edit that restored the last one would be a no-op build).
    edited, count = re.subn(
        r"\[(edited \d+ )?synthetic ", f"[edited {round_number} synthetic ", text, count=1
    )
    if count != 1 or edited == text:
        raise RuntimeError(f"no label to edit in {target}")
    target.write_text(edited, encoding="utf-8")
    return target


def run(sizes: list[int], runs: int) -> dict[str, Any]:
    rows = []
    for size in sizes:
        source = trees.tree(size)
        full: list[dict[str, Any]] = []
        for attempt in range(runs):
            build_dir = trees.WORK / "builds" / f"full-n{size}-{attempt}"
            shutil.rmtree(build_dir, ignore_errors=True)
            full.append(timed_build(source, build_dir))
            print(
                size,
                "full",
                f"{full[-1]['seconds']:.1f}s",
                f"{full[-1]['peak_mb']:.0f} MB",
                f"(all processes {full[-1]['peak_tree_mb']:.0f} MB)",
            )
        # Incremental: a private copy of the tree, so the cached source stays pristine.
        work = trees.WORK / "edited" / f"n{size}"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(source, work)
        build_dir = trees.WORK / "builds" / f"incremental-n{size}"
        shutil.rmtree(build_dir, ignore_errors=True)
        timed_build(work, build_dir)
        changed, unchanged = [], []
        for attempt in range(runs):
            touch_one_engagement(work, attempt)
            changed.append(timed_build(work, build_dir))
            unchanged.append(timed_build(work, build_dir))
        # The same edit, told to a watching process (`engagements watch`).
        watched = timed_watch(work, build_dir, [runs + n for n in range(runs)])
        steps = sorted({k for r in full for k in r["steps"]})
        rows.append(
            {
                "engagements": size,
                "triples": sum(full[0]["graphs"].values()) if full[0]["graphs"] else None,
                "full_seconds": median([r["seconds"] for r in full]),
                "full_peak_mb": max(r["peak_mb"] for r in full),
                "full_peak_tree_mb": max(r["peak_tree_mb"] for r in full),
                "full_steps": {
                    k: median([float(r["steps"].get(k, 0)) for r in full])
                    for k in steps
                    if all(isinstance(r["steps"].get(k, 0), int | float) for r in full)
                },
                "full_step_peak_tree_mb": {
                    k: max(r["step_peak_tree_mb"].get(k, 0) for r in full) for k in steps
                },
                "one_file_changed_seconds": median([r["seconds"] for r in changed]),
                "one_file_changed_peak_mb": max(r["peak_mb"] for r in changed),
                "one_file_changed_steps": {
                    k: median([float(r["steps"].get(k, 0)) for r in changed]) for k in steps
                },
                "one_file_changed_reasoning": sorted({str(r["reasoning"]) for r in changed}),
                "nothing_changed_seconds": median([r["seconds"] for r in unchanged]),
                "one_file_changed_watching_seconds": median(watched),
                "one_file_changed_watching_runs": watched,
                "runs": runs,
            }
        )
        print(json.dumps(rows[-1], indent=2), flush=True)
    return {"suite": "build", "rows": rows}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks build", description=__doc__)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    results = run([int(s) for s in args.sizes.split(",")], args.runs)
    print(f"results: {write_results('build', results)}")
