"""With the ``speed`` extra: check a usage report in C, then build its models without checks.

The structure functions of ``_compiled`` check every field in Python, and on a v2 answer (about
thirty small objects) those checks cost more than parsing the body. msgspec checks the same rules
in C when it converts the parsed body into *mirror* structs: one frozen ``msgspec.Struct`` per
model class, with the wire names, ``forbid_unknown_fields`` and a count type bounded like ours
(``0 <= n <= 2**63 - 1``, no booleans, no floats). What a mirror accepts, the converters accept
and build into the same model; the models are then filled in from the mirrors with no further
checks.

Everything else goes back to the structure functions and the converters, which decide and word
the errors as before: a key the mirror does not know (the model would keep it in ``extra``), a
count sent as ``3.0``, a date-time that does not parse, a model with a field type the mirror does
not copy exactly (floats, mappings, fields with their own hook). A report class whose answers
keep being refused (a server that sends a new key in every answer) skips its mirror for a while
before trying it again.

Sections (the code-completion, chat and agent parts of a bucket) repeat identical values across
buckets and answers, the all-zero ones most of all; being immutable, equal ones are built once
and shared, like the period boundaries.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any

import attrs

from ._compiled import (
    _GRANULARITIES,
    Refused,
    _datetimes,
    _optional_inner,
    _parse_new_datetime,
    _refuse,
    _slot_setters,
)
from .models import Granularity

__all__ = ["Mirrors"]

try:
    import msgspec
except ImportError:  # the speed extra is not installed
    msgspec = None  # type: ignore[assignment]

_INT64_MAX = 2**63 - 1
#: A report class refused this many times in a row skips its mirror for the next answers.
_REFUSALS_TOLERATED = 16
_ANSWERS_SKIPPED = 1000
#: Shared sections kept per class; emptied when full rather than tracking recency.
_SHARED_KEPT = 1024

Structure = Callable[[Any], Any]


class _Unsupported(Exception):
    """A field type the mirror cannot copy exactly."""


class Mirrors:
    """Writes and caches, per report class, the mirror-checked structure function.

    ``renames`` and ``special`` are those of ``_compiled.Compiler``; ``reports`` maps each
    usage-shaped report class to the attribute holding its items and the item class. ``get``
    answers ``None`` without msgspec or for a class the mirror does not copy exactly.
    """

    def __init__(
        self,
        renames: Mapping[type, Mapping[str, str]],
        special: Mapping[type, Mapping[str, Callable[[Any, Any], Any]]],
        reports: Mapping[type, tuple[str, type]],
    ) -> None:
        self._renames = renames
        self._special = special
        self._reports = reports
        self._done: dict[Any, Structure | None] = {}
        self._classes: dict[type, tuple[Any, Structure]] = {}

    def get(self, typ: Any) -> Structure | None:
        """The function structuring ``typ`` through its mirror, or ``None``."""
        try:
            return self._done[typ]
        except KeyError:
            pass
        except TypeError:  # an unhashable type expression
            return None
        made: Structure | None = None
        if msgspec is not None and typ in self._reports:
            try:
                made = self._report(typ)
            except _Unsupported:
                made = None
        self._done[typ] = made
        return made

    def _report(self, cls: type) -> Structure:
        items_attr, item = self._reports[cls]
        item_mirror, build_item = self._class(item)
        usage = msgspec.defstruct(
            f"{cls.__name__}Usage",
            [("granularity", str), ("data", tuple[item_mirror, ...])],  # type: ignore[valid-type]
            forbid_unknown_fields=True,
            frozen=True,
            gc=False,  # short-lived and acyclic: not worth tracking
        )
        mirror = msgspec.defstruct(
            f"{cls.__name__}Mirror",
            [
                ("organization_id", str),
                ("start", str),
                ("end", str),
                ("usage", usage),
                ("team_id", str | None, None),
                ("user_id", str | None, None),
            ],
            rename={
                "organization_id": "organizationId",
                "start": "from",
                "end": "to",
                "team_id": "teamId",
                "user_id": "userId",
            },
            forbid_unknown_fields=True,
            frozen=True,
            gc=False,
        )
        names = tuple(a.name for a in attrs.fields(cls))
        if names != (
            "organization_id",
            "start",
            "end",
            "granularity",
            items_attr,
            "team_id",
            "user_id",
            "extra",
        ):
            raise _Unsupported  # built positionally below
        convert = msgspec.convert
        dts = _datetimes
        new_dt = _parse_new_datetime
        granularities = _GRANULARITIES
        refused = skipping = 0

        def structure(value: Any) -> Any:
            nonlocal refused, skipping
            if skipping:
                skipping -= 1
                raise Refused
            try:
                s: Any = convert(value, mirror)
            except msgspec.ValidationError:
                refused += 1
                if refused >= _REFUSALS_TOLERATED:
                    refused, skipping = 0, _ANSWERS_SKIPPED
                raise Refused from None
            refused = 0
            start = dts.get(s.start) or new_dt(s.start)
            end = dts.get(s.end) or new_dt(s.end)
            granularity = granularities.get(s.usage.granularity)
            if granularity is None:
                raise Refused
            items = tuple([build_item(x) for x in s.usage.data])
            return cls(s.organization_id, start, end, granularity, items, s.team_id, s.user_id)

        return structure

    def _class(self, cls: type) -> tuple[Any, Structure]:
        """The mirror struct of ``cls`` and the function building ``cls`` from one."""
        if cls in self._classes:
            return self._classes[cls]
        if cls not in self._renames or self._special.get(cls):
            raise _Unsupported
        renames = self._renames[cls]
        hints = typing.get_type_hints(cls)
        namespace: dict[str, Any] = {
            "_cls": cls,
            "_dts": _datetimes,
            "_new_dt": _parse_new_datetime,
        }
        fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
        values: list[tuple[str, str]] = []
        lines: list[str] = []
        shared = True
        for n, attribute in enumerate(attrs.fields(cls)):
            if attribute.name == "extra":
                continue
            typ = hints[attribute.name]
            inner = _optional_inner(typ)
            target = typ if inner is None else inner
            required = attribute.default is attrs.NOTHING
            if not required and attribute.default is not None:
                raise _Unsupported
            var = f"v{n}"
            lines.append(f"    {var} = s.{attribute.name}")
            wire_type, convert = self._field(target, namespace, n)
            if convert is not None:
                # A period or a nested model is rarely equal to another one; model lists (per-model
                # rows, mostly absent) are cheap to compare.
                shared = shared and convert.startswith("tuple(")
                step = f"{var} = {convert}"
                lines.append(
                    f"    if {var} is not None: {step}" if inner is not None else f"    {step}"
                )
            if inner is not None:
                wire_type = wire_type | None
            fields.append(
                (attribute.name, wire_type) if required else (attribute.name, wire_type, None)
            )
            values.append((attribute.name, var))
        mirror = msgspec.defstruct(
            f"{cls.__name__}Mirror",
            fields,
            rename=dict(renames),
            forbid_unknown_fields=True,
            frozen=True,
            kw_only=True,
            gc=False,
        )
        build = _build_lines(cls, values, namespace)
        if shared:
            namespace["_shared"] = {}
            namespace["_KEPT"] = _SHARED_KEPT
            head = [
                "def structure(s):",
                "    o = _shared.get(s)",
                "    if o is not None: return o",
            ]
            tail = [
                "    if len(_shared) >= _KEPT: _shared.clear()",
                "    _shared[s] = o",
                "    return o",
            ]
        else:
            head, tail = ["def structure(s):"], ["    return o"]
        exec("\n".join([*head, *lines, *build, *tail]), namespace)  # source written above
        made: tuple[Any, Structure] = (mirror, namespace["structure"])
        self._classes[cls] = made
        return made

    def _field(self, typ: Any, namespace: dict[str, Any], n: int) -> tuple[Any, str | None]:
        """The mirror's type for a field of type ``typ``, and the expression converting it."""
        if typ is int:
            return Annotated[int, msgspec.Meta(ge=0, le=_INT64_MAX)], None
        if typ is str or typ is bool:
            return typ, None
        if typ is datetime:
            # Parsed as the converters parse it, not by msgspec, whose rules differ.
            return str, f"_dts.get(v{n}) or _new_dt(v{n})"
        if typ is Granularity:
            namespace["_grans"] = _GRANULARITIES
            namespace["_refuse"] = _refuse
            return str, f"_grans.get(v{n}) or _refuse()"
        if typing.get_origin(typ) is tuple:
            args = typing.get_args(typ)
            if len(args) != 2 or args[1] is not Ellipsis:
                raise _Unsupported
            if args[0] is str:
                return tuple[str, ...], None
            if not attrs.has(args[0]):
                raise _Unsupported
            item, build = self._class(args[0])
            namespace[f"_b{n}"] = build
            return tuple[item, ...], f"tuple([_b{n}(x) for x in v{n}])"  # type: ignore[valid-type]
        if attrs.has(typ):
            nested, build = self._class(typ)
            namespace[f"_b{n}"] = build
            return nested, f"_b{n}(v{n})"
        raise _Unsupported  # floats (finiteness), mappings, anything else: the converters' job


def _build_lines(cls: type, values: list[tuple[str, str]], namespace: dict[str, Any]) -> list[str]:
    """Statements that set ``o`` to an instance of ``cls`` holding ``values``, no unknown keys."""
    setters = _slot_setters(cls)
    if setters is None:
        call = ", ".join(f"{name}={var}" for name, var in values)
        return [f"    o = _cls({call})"]
    namespace["_new"] = object.__new__
    namespace["_E"] = attrs.fields_dict(cls)["extra"].default
    by_name = dict(values)
    lines = ["    o = _new(_cls)"]
    for n, name in enumerate(setters):
        namespace[f"_set{n}"] = setters[name]
        lines.append(f"    _set{n}(o, {'_E' if name == 'extra' else by_name[name]})")
    return lines
