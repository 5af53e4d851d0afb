"""Run one measured step in a fresh process; collect its time and peak memory.

Every step runs in its own interpreter so that its peak resident memory is its
own (``ru_maxrss`` of the child) and no step warms a cache for the next.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class StepResult:
    seconds: float
    peak_mb: float
    details: dict[str, Any]


class StepFailed(RuntimeError):
    pass


def run_step(step: str, *args: str, timeout: float | None = None) -> StepResult | None:
    """``python -m benchmarks.steps STEP ARGS…``; None when it ran out of time."""
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "benchmarks.steps", step, *args],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
    except subprocess.TimeoutExpired:
        return None
    if completed.returncode != 0:
        raise StepFailed(f"step {step} {args} failed:\n{completed.stderr[-3000:]}")
    payload = json.loads(completed.stdout.strip().splitlines()[-1])
    return StepResult(
        seconds=payload.pop("seconds"), peak_mb=payload.pop("peak_mb"), details=payload
    )


def timed_runs(
    step: str, args: list[str], *, runs: int, timeout: float | None, keys: tuple[str, ...]
) -> dict[str, Any]:
    """``runs`` runs of one step: the median time, peak memory and the first run's
    ``keys``; ``{"timeout": limit}`` when the first run did not finish in time."""
    results: list[StepResult] = []
    for _ in range(runs):
        result = run_step(step, *args, timeout=timeout)
        if result is None:
            break
        results.append(result)
    if not results:
        return {"timeout": timeout}
    return {
        "seconds": median([r.seconds for r in results]),
        "runs": len(results),
        "peak_mb": max(r.peak_mb for r in results),
        **{key: results[0].details[key] for key in keys},
    }


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
    except (OSError, StopIteration, ValueError):
        memory_kb = 0
    import pyoxigraph

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "pyoxigraph": pyoxigraph.__version__ if hasattr(pyoxigraph, "__version__") else "?",
        "kernel": platform.release(),
    }


def write_results(name: str, results: dict[str, Any]) -> Path:
    out = REPO_ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **results}, indent=2) + "\n")
    return path
