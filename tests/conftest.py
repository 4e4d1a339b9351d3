from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBLEMS = sorted((ROOT / "problems").glob("*.yaml"))


@pytest.fixture
def seed_example() -> Path:
    return ROOT / "problems" / "seed_worked_example.yaml"
