"""Shared helpers for the benchmark scripts: medians of repeated wall-clock runs."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable


def median_seconds(fn: Callable[[], object], repeat: int = 7, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def command_seconds(argv: list[str], repeat: int = 15) -> float:
    """Median wall time of a command, output discarded (a fresh process each time)."""
    def once() -> None:
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)

    return median_seconds(once, repeat=repeat)


def machine() -> str:
    import numpy

    return (f"{platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, NumPy {numpy.__version__}, {platform.system()}")


def convgrad_command() -> list[str]:
    """How to run convgrad in a fresh process from this interpreter."""
    return [sys.executable, "-m", "convgrad"]
