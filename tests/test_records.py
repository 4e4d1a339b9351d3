"""Records (convgrad.records) behave as the dataclasses they are declared like: the same
__init__, ==, hash, repr and frozenness, and dataclasses.replace / fields on them."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import pytest

from convgrad.records import MISSING, field, fields, record


@record(frozen=True)
class Point:
    x: int
    y: int = 0
    tags: ClassVar[str] = "not a field"


@record(repr=False)
class Box:
    name: str
    items: list[int] = field(default_factory=list)


@record(eq=False, repr=False)
class Holder:
    value: object


@record(kw_only=True, repr=False)
class Options:
    json: bool = field(default=False, metadata={"cli": "--json"})
    out: str | None = None


@record(repr=False)
class Base:
    a: int
    b: int = 2


@record(repr=False)
class Child(Base):
    c: int = 3


# the same declarations as dataclasses, to hold records against
@dataclasses.dataclass(frozen=True)
class DPoint:
    x: int
    y: int = 0


@dataclasses.dataclass(repr=False)
class DBox:
    name: str
    items: list[int] = dataclasses.field(default_factory=list)


def test_init_takes_what_a_dataclass_takes():
    assert (Point(1).x, Point(1).y, Point(1, 2).y, Point(y=5, x=4).x) == (1, 0, 2, 4)
    assert Point.tags == "not a field" and [f.name for f in fields(Point)] == ["x", "y"]
    for make in (Point, DPoint):
        with pytest.raises(TypeError):
            make()
        with pytest.raises(TypeError):
            make(1, 2, 3)
        with pytest.raises(TypeError):
            make(1, x=1)
        with pytest.raises(TypeError):
            make(1, z=1)


def test_a_default_factory_makes_a_fresh_value_per_instance():
    one, two = Box("a"), Box("b")
    one.items.append(1)
    assert two.items == [] and Box("c", [7]).items == [7]
    assert "items" not in Box.__dict__  # as dataclasses: no class attribute to share


def test_a_mutable_default_is_refused_as_dataclasses_refuse_it():
    with pytest.raises(ValueError, match="default_factory"):
        @record
        class Bad:
            items: list[int] = []


def test_equality_and_hash_as_dataclasses():
    assert Point(1, 2) == Point(1, 2) and Point(1, 2) != Point(2, 1)
    assert (Point(1, 2) == DPoint(1, 2)) is False  # another class is never equal
    assert hash(Point(1, 2)) == hash(Point(1, 2)) == hash(DPoint(1, 2))
    assert Box("a", [1]) == Box("a", [1]) and Box("a") != Box("b")
    with pytest.raises(TypeError):
        hash(Box("a"))  # eq without frozen: unhashable, as a dataclass
    same = Holder(1)
    assert same == same and Holder(1) != Holder(1)  # eq=False: identity
    assert Child(1) == Child(1) and Child(1) != Base(1)


def test_repr_as_dataclasses():
    assert repr(Point(1, 2)) == repr(DPoint(1, 2)).replace("DPoint", "Point")
    assert repr(Box("a")).startswith("<")  # repr=False: object's


def test_frozen_refuses_assignment_and_deletion():
    p = Point(1, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del p.y  # type: ignore[misc]
    assert p.x == 1


def test_keyword_only_and_metadata():
    with pytest.raises(TypeError):
        Options(True)  # type: ignore[misc]
    opts = Options(json=True)
    assert (opts.json, opts.out) == (True, None)
    first = fields(Options)[0]
    assert (first.name, first.default, first.metadata) == ("json", False, {"cli": "--json"})
    assert fields(Box)[0].default is MISSING


def test_inherited_fields_come_first():
    assert [f.name for f in fields(Child)] == ["a", "b", "c"]
    child = Child(1, c=9)
    assert (child.a, child.b, child.c) == (1, 2, 9)


def test_the_dataclasses_module_sees_a_dataclass():
    assert dataclasses.is_dataclass(Point) and dataclasses.is_dataclass(Child(1))
    assert [f.name for f in dataclasses.fields(Child)] == ["a", "b", "c"]
    moved = dataclasses.replace(Point(1, 2), y=7)
    assert moved == Point(1, 7)
    box = dataclasses.replace(Box("a", [1]), name="b")
    assert (box.name, box.items) == ("b", [1])
    assert dataclasses.asdict(Child(1)) == {"a": 1, "b": 2, "c": 3}
    assert Box("x").items == []  # the factory still works after dataclasses looked
    with pytest.raises(dataclasses.FrozenInstanceError):
        Point(1).x = 2  # type: ignore[misc]
