"""The dependency floors pyproject.toml declares are the ones CI installs and tests."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")


def _floors_declared() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    floors = {}
    for requirement in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9.]*)", requirement.strip())
        assert match, f"{requirement!r}: declare every dependency as NAME>=FLOOR"
        floors[match[1].lower()] = match[2]
    return floors


def _floors_tested() -> dict[str, str]:
    pins = {}
    for line in (ROOT / ".ci" / "floors.txt").read_text("utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def _release(version: str) -> tuple[int, ...]:
    parts = tuple(int(part) for part in version.split("."))
    return parts + (0,) * (3 - len(parts))


def test_every_declared_floor_is_the_version_ci_tests() -> None:
    declared, tested = _floors_declared(), _floors_tested()
    assert set(declared) == set(tested)
    for name, floor in declared.items():
        assert _release(floor) == _release(tested[name]), (name, floor, tested[name])
