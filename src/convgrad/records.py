"""Records: classes of named fields declared as dataclasses are, built without compiling code.

`@dataclass` writes each class's __init__, __eq__, __repr__ (and a frozen class's __setattr__
and __hash__) as source text and compiles it while its module is imported: about half a
millisecond a class, which every `convgrad solve --json` paid some twenty times before it
computed anything. `@record` takes the same declaration (annotated fields, defaults,
`field(default_factory=..., metadata=...)`, and dataclass' eq, repr, frozen and kw_only) and
gives the same methods, made from the list of fields as closures.

The dataclasses module still sees a record as a dataclass (dataclasses.fields, replace,
asdict, is_dataclass), but only when something asks: its view of the fields is built then.
Type checkers read `record` and `field` as dataclasses' own.
"""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING, Any, ClassVar


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()  # a field without a default


class Field:
    """A record's field: its name and type (as annotated), its default or default_factory
    (MISSING when it has none), whether repr shows it, and its metadata."""

    __slots__ = ("name", "type", "default", "default_factory", "repr", "metadata", "kw_only")

    def __init__(self, default: Any = MISSING, default_factory: Any = MISSING,
                 repr: bool = True, metadata: Any = None) -> None:
        self.name = ""
        self.type: Any = None
        self.default = default
        self.default_factory = default_factory
        self.repr = repr
        self.metadata = {} if metadata is None else metadata
        self.kw_only = False

    def __repr__(self) -> str:
        return f"Field(name={self.name!r}, default={self.default!r})"


def _field(*, default: Any = MISSING, default_factory: Any = MISSING, repr: bool = True,
           metadata: Any = None) -> Any:
    """A field's default, default_factory, repr and metadata, as dataclasses.field."""
    return Field(default, default_factory, repr, metadata)


def fields(cls_or_record: Any) -> tuple[Field, ...]:
    """The fields of a record (a class or an instance), in order: inherited ones first."""
    return cls_or_record.__record_fields__  # type: ignore[no-any-return]


def _is_classvar(annotation: Any) -> bool:
    if isinstance(annotation, str):  # `from __future__ import annotations`
        return annotation.startswith(("ClassVar", "typing.ClassVar"))
    return annotation is ClassVar or getattr(annotation, "__origin__", None) is ClassVar


def _record(cls: Any, eq: bool, repr: bool, frozen: bool, kw_only: bool) -> type:
    inherited: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        inherited.update((f.name, f) for f in base.__dict__.get("__record_fields__", ()))
    own = []
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        if _is_classvar(annotation):
            continue
        value = cls.__dict__.get(name, MISSING)
        spec = value if isinstance(value, Field) else Field(default=value)
        if spec.default is not MISSING and type(spec.default).__hash__ is None:
            raise ValueError(f"{cls.__name__}.{name}: a mutable default ({spec.default!r}) "
                             "would be shared by every instance; use default_factory")
        spec.name, spec.type, spec.kw_only = name, annotation, kw_only
        if isinstance(value, Field):
            if spec.default is MISSING:
                delattr(cls, name)  # as dataclasses: no class attribute for a factory's field
            else:
                setattr(cls, name, spec.default)
        own.append(spec)
    found = {**inherited, **{f.name: f for f in own}}
    every = tuple(found.values())
    cls.__record_fields__ = every
    cls.__dataclass_fields__ = _DataclassView(kw_only)
    cls.__match_args__ = tuple(f.name for f in every if not f.kw_only)  # type: ignore[misc]
    cls.__init__ = _init(cls, every)
    values = _getter(tuple(f.name for f in every))
    if repr:
        cls.__repr__ = _repr(tuple(f.name for f in every if f.repr))
    if eq:
        cls.__eq__ = _eq(values)
        # as dataclasses: a frozen record hashes its fields; a mutable one is unhashable
        if frozen:
            cls.__hash__ = _hash(values)
        elif "__hash__" not in cls.__dict__:
            cls.__hash__ = None
    if frozen:
        names = frozenset(found)
        cls.__setattr__ = _frozen(cls, names, "assign to")
        cls.__delattr__ = _frozen(cls, names, "delete")
    return cls


def _getter(names: tuple[str, ...]) -> Any:
    """A function of a record: the tuple of its fields' values."""
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return attrgetter(*names) if names else lambda obj: ()


def _init(cls: type, every: tuple[Field, ...]) -> Any:
    positional = tuple(f.name for f in every if not f.kw_only)
    title = f"{cls.__qualname__}.__init__()"
    put = object.__setattr__  # a frozen record's __setattr__ refuses

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(positional):
            raise TypeError(f"{title} takes {len(positional) + 1} positional arguments but "
                            f"{len(args) + 1} were given")
        for name, value in zip(positional, args, strict=False):  # args may be fewer
            if name in kwargs:
                raise TypeError(f"{title} got multiple values for argument '{name}'")
            kwargs[name] = value
        for f in every:
            value = kwargs.pop(f.name, MISSING)
            if value is MISSING:
                if f.default is not MISSING:
                    value = f.default
                elif f.default_factory is not MISSING:
                    value = f.default_factory()
                else:
                    raise TypeError(f"{title} missing 1 required argument: '{f.name}'")
            put(self, f.name, value)
        if kwargs:
            raise TypeError(f"{title} got an unexpected keyword argument '{next(iter(kwargs))}'")

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return __init__


def _repr(names: tuple[str, ...]) -> Any:
    def __repr__(self: Any) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__qualname__}({shown})"

    return __repr__


def _eq(values: Any) -> Any:
    def __eq__(self: Any, other: object) -> Any:
        if other.__class__ is self.__class__:
            return values(self) == values(other)
        return NotImplemented

    return __eq__


def _hash(values: Any) -> Any:
    def __hash__(self: Any) -> int:
        return hash(values(self))

    return __hash__


def _frozen(cls: Any, names: frozenset[str], verb: str) -> Any:
    def refuse(self: Any, name: str, *value: Any) -> None:
        if type(self) is cls or name in names:
            from dataclasses import FrozenInstanceError

            raise FrozenInstanceError(f"cannot {verb} field {name!r}")
        if value:
            super(cls, self).__setattr__(name, *value)
        else:
            super(cls, self).__delattr__(name)

    return refuse


class _DataclassView:
    """A record's __dataclass_fields__, made when first read (dataclasses.replace, fields,
    asdict): the dataclasses module then looks at the class as at one of its own, adding
    no methods (a record has its own), and this stands aside."""

    def __init__(self, kw_only: bool) -> None:
        self.kw_only = kw_only

    def __get__(self, obj: Any, owner: type) -> Any:
        import dataclasses

        factories = [f for f in owner.__record_fields__ if f.default_factory is not MISSING  # type: ignore[attr-defined]
                     and f.name in owner.__dict__.get("__annotations__", {})]
        for f in factories:  # dataclasses reads a factory from a field() in the class
            setattr(owner, f.name, dataclasses.field(default_factory=f.default_factory))
        try:
            dataclasses.dataclass(owner, init=False, repr=False, eq=False, kw_only=self.kw_only)
        finally:
            for f in factories:
                if f.name in owner.__dict__:
                    delattr(owner, f.name)
        return owner.__dict__["__dataclass_fields__"]


def _decorate(cls: Any = None, /, *, eq: bool = True, repr: bool = True, frozen: bool = False,
              kw_only: bool = False) -> Any:
    """`@record` or `@record(eq=..., repr=..., frozen=..., kw_only=...)`, as `@dataclass`."""
    def wrap(cls: type) -> type:
        return _record(cls, eq, repr, frozen, kw_only)

    return wrap if cls is None else wrap(cls)


if TYPE_CHECKING:
    from dataclasses import dataclass as record
    from dataclasses import field
else:
    record = _decorate
    field = _field
