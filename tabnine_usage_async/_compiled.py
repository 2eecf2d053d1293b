"""Structure functions written once per model class, for the answers that parse cleanly.

Every usage answer is a few dozen small objects, and structuring them through cattrs' generic
dispatch (a hook lookup and a call per field) costs more than reading the answer from the socket.
This module writes, once per class, a plain Python function that reads each wire key with
``dict.get``, checks the common case inline (``type(v) is int and 0 <= v <= 2**63 - 1`` for a
count, an exact ``str`` for a string, a cached parse for a date-time) and calls the class. For
each set of keys it meets (answers of one kind nearly always hold the same ones) it writes
another that reads the whole set with one ``itemgetter`` call, and that hands back the instance
it already built for equal plain values (see ``_Learner``).

These functions only ever *accept* what the converter in ``_convert`` accepts, and build the same
objects. Anything outside the common case (a count sent as ``3.0``, a missing required key, a
wrong type, a date-time not seen before that does not parse) raises ``Refused``, and ``decode``
falls back to the converters, which either accept it after all or name the exact field path in
a ``DecodeError``. So the errors are exactly as before; only the success path is faster.
"""

from __future__ import annotations

import inspect
import operator
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import attrs

from .models import Granularity
from .windows import parse_datetime

__all__ = ["Compiler", "Refused"]

_INT64_MAX = 2**63 - 1
_MISSING = object()
_DATETIMES_KEPT = 4096

Structure = Callable[[Any], Any]


class Refused(Exception):
    """The fast path does not handle this value; the converters decide instead."""


def _refuse() -> Any:
    raise Refused


# Period boundaries repeat in every block of every answer: parse each string once. Only values
# that parsed are kept; the cache is emptied when full rather than tracking recency.
_datetimes: dict[str, datetime] = {}


def _parse_new_datetime(text: Any) -> datetime:
    if text.__class__ is not str:
        raise Refused
    try:
        parsed = parse_datetime(text)
    except ValueError:
        raise Refused from None
    if len(_datetimes) >= _DATETIMES_KEPT:
        _datetimes.clear()
    _datetimes[text] = parsed
    return parsed


_GRANULARITIES: dict[Any, Granularity] = {g.value: g for g in Granularity}


def _optional_inner(typ: Any) -> Any:
    if typing.get_origin(typ) not in (typing.Union, types.UnionType):
        return None
    args = typing.get_args(typ)
    if len(args) != 2 or type(None) not in args:
        return None
    return args[0] if args[1] is type(None) else args[1]


def _is_mapping(typ: Any) -> bool:
    return typing.get_origin(typ) in (Mapping, dict) or typ is dict


class Compiler:
    """Writes and caches the structure function of each class it is asked for.

    ``renames`` maps a class to its attribute -> wire-name renames (the classes the converter
    generates hooks for); ``special`` gives the fields whose wire type has its own hook, called
    here as the converter calls it. ``reports`` maps each usage-shaped report class to the attribute
    holding its items and the item class.
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

    def get(self, typ: Any) -> Structure | None:
        """The function structuring ``typ`` (a class or ``list[cls]``), or ``None``."""
        try:
            return self._done[typ]
        except KeyError:
            pass
        except TypeError:  # an unhashable type expression: leave it to the converters
            return None
        self._done[typ] = None  # a class that refers to itself is left to the converters
        made = self._make(typ)
        self._done[typ] = made
        return made

    def _make(self, typ: Any) -> Structure | None:
        if typing.get_origin(typ) is list:
            (item,) = typing.get_args(typ)
            one = self.get(item)
            if one is None:
                return None
            return _list_of(one)
        if typ in self._reports:
            items_attr, item = self._reports[typ]
            one = self.get(item)
            return None if one is None else _report(typ, items_attr, one)
        if typ in self._renames:
            return self._write_class(typ, self._renames[typ])
        return None

    def _write_class(self, cls: type, renames: Mapping[str, str]) -> Structure | None:
        hints = typing.get_type_hints(cls)
        namespace: dict[str, Any] = {
            "_cls": cls,
            "_R": Refused,
            "_MAX": _INT64_MAX,
            "_dts": _datetimes,
            "_new_dt": _parse_new_datetime,
            "_grans": _GRANULARITIES,
        }
        lines = ["    g = value.get"]
        reads: list[_Read] = []
        values: list[tuple[str, str, bool]] = []
        known = []
        for n, attribute in enumerate(attrs.fields(cls)):
            if attribute.name == "extra":
                continue
            wire = renames.get(attribute.name, attribute.name)
            known.append(wire)
            typ = hints[attribute.name]
            inner = _optional_inner(typ)
            target = typ if inner is None else inner
            var = f"v{n}"
            special = self._special.get(cls, {}).get(attribute.name)
            if special is not None:
                # The field's own hook, called as the converter calls it.
                namespace[f"_s{n}"] = special
                check: list[str] | None = [f"{var} = _s{n}({var}, None)"]
            else:
                check = self._check(var, target, namespace, n)
            if check is None:
                return None
            required = attribute.default is attrs.NOTHING
            if not required and attribute.default is not None:
                return None  # no such field among the generated classes; keep it simple
            # A subscript is cheaper than ``get`` when the key is there, as it nearly always is;
            # a missing key costs an exception, which only absent optional fields pay.
            if required:
                lines += [
                    "    try:",
                    f"        {var} = value[{wire!r}]",
                    "    except KeyError:",
                    "        raise _R from None",
                ]
            else:
                lines.append(f"    {var} = g({wire!r})")
            if required and inner is None:
                block = [f"    {line}" for line in check]
            else:
                block = [f"    if {var} is not None:", *[f"        {line}" for line in check]]
            lines += block
            plain = target if special is None and target in (int, str, bool) else None
            reads.append((wire, var, required, block, plain))
            values.append((attribute.name, var, attribute.kw_only))
        namespace["_known"] = frozenset(known)
        namespace["_fast"] = {}
        namespace["_MISS"] = _MISSING
        namespace["_learn"] = _Learner(cls, reads, values, namespace)
        lines = [
            "def structure(value):",
            "    if value.__class__ is not dict: raise _R",
            "    f = _fast.get(len(value))",
            "    if f is not None:",
            "        o = f(value)",
            "        if o is not _MISS: return o",
            *lines,
        ]
        # Unknown keys are rare; kept in the order the server sent them (outputs are stable).
        lines += [
            "    if _known.issuperset(value):",
            "        if len(value) not in _fast: _learn(value)",
            *_build(cls, values, "_E", namespace, "        "),
            "    if len(value) not in _fast: _learn(value)",
            "    extra = {}",
            "    for k in value:",
            "        if k not in _known: extra[k] = value[k]",
            *_build(cls, values, "extra", namespace, "    "),
        ]
        exec("\n".join(lines), namespace)  # source written above from attrs fields
        structure: Structure = namespace["structure"]
        return structure

    def _check(self, var: str, typ: Any, namespace: dict[str, Any], n: int) -> list[str] | None:
        """Statements that validate (and convert) ``var`` as ``typ``, or ``None``: unsupported."""
        if typ is int:
            return [f"if {var}.__class__ is not int or not 0 <= {var} <= _MAX: raise _R"]
        if typ is float:
            return [
                f"if {var}.__class__ is int: {var} = float({var})",
                f"elif {var}.__class__ is not float or {var} - {var} != 0.0: raise _R",
            ]
        if typ is str:
            return [f"if {var}.__class__ is not str: raise _R"]
        if typ is bool:
            return [f"if {var}.__class__ is not bool: raise _R"]
        if typ is datetime:
            return [f"{var} = _dts.get({var}) or _new_dt({var})"]
        if typ is Granularity:
            return [
                f"{var} = _grans.get({var}) if {var}.__class__ is str else None",
                f"if {var} is None: raise _R",
            ]
        if _is_mapping(typ):
            return [f"if {var}.__class__ is not dict: raise _R"]
        if typing.get_origin(typ) is tuple:
            args = typing.get_args(typ)
            if len(args) != 2 or args[1] is not Ellipsis:
                return None
            item = self._item(args[0], namespace, n)
            if item is None:
                return None
            return [
                f"if {var}.__class__ is not list: raise _R",
                f"{var} = tuple([{item}(x) for x in {var}])",
            ]
        nested = self.get(typ) if attrs.has(typ) else None
        if nested is None:
            return None
        namespace[f"_f{n}"] = nested
        return [f"{var} = _f{n}({var})"]

    def _item(self, typ: Any, namespace: dict[str, Any], n: int) -> str | None:
        if typ is str:
            namespace[f"_i{n}"] = _exact_str
        elif attrs.has(typ) and (nested := self.get(typ)) is not None:
            namespace[f"_i{n}"] = nested
        else:
            return None
        return f"_i{n}"


_Read = tuple[str, str, bool, list[str], "type | None"]
"""A field's wire key, variable, whether it is required, its checks, and its class if plain."""

#: Sets of keys learned per class at most (one per body size).
_SETS_KEPT = 8
#: Instances kept per set of keys for sharing; emptied when full rather than tracking recency.
_SHARED_KEPT = 1024


class _Learner:
    """Writes, for the set of keys a body holds, a function reading them all in one call.

    Answers of one kind nearly always hold the same keys (every field, or every field but the
    ones a server leaves out), so a function written for that set reads the fields with one
    ``itemgetter`` call instead of a lookup per field, knows which are absent, and needs no search
    for unknown keys. It is kept under the number of keys: a body of that size holding another
    set makes it answer ``_MISS``, and the per-field statements take over. A few sets are learned
    per class; a server sending ever new keys has the rest read key by key.
    """

    def __init__(
        self,
        cls: type,
        reads: list[_Read],
        values: list[tuple[str, str, bool]],
        namespace: dict[str, Any],
    ) -> None:
        self._cls = cls
        self._reads = reads
        self._values = values
        self._namespace = namespace

    def __call__(self, value: dict[str, Any]) -> None:
        fast: dict[int, Structure] = self._namespace["_fast"]
        if len(fast) >= _SETS_KEPT:
            return  # a server sending ever new keys: read them key by key
        present = [read for read in self._reads if read[0] in value]
        if any(read[2] and read[0] not in value for read in self._reads):
            return  # a required field is missing: the per-field statements refuse it
        known = {read[0] for read in self._reads}
        # Unknown keys are picked too, so that a body of the same size holding a known key in
        # their place (a field this set lacks) does not pass for this set.
        unknown = [key for key in value if key not in known]
        picked = [read[0] for read in present] + unknown
        targets = [read[1] for read in present] + ["_"] * len(unknown)
        size = len(value)
        # A namespace of its own: two threads learning sets of one size at once must not swap
        # each other's ``_pick``.
        namespace = dict(self._namespace)
        lines = ["def fast(value):"]
        shared = bool(present) and not unknown and all(read[4] for read in present)
        if picked:
            namespace[f"_pick{size}"] = operator.itemgetter(*picked)
            pick = f"_pick{size}(value)"
            lines += [
                "    try:",
                f"        t = ({pick},)" if len(picked) == 1 else f"        t = {pick}",
                "    except KeyError:",
                "        return _MISS",
                f"    {', '.join(targets)}, = t",
            ]
        if shared:
            lines += _shared_lines(present, size, namespace)
        found = {read[1] for read in present}
        lines += [f"    {var} = None" for _, var, *_ in self._reads if var not in found]
        for present_read in present:
            lines += present_read[3]
        if unknown:
            # In the order sent, as the per-field statements keep them.
            lines.append("    extra = {k: value[k] for k in value if k not in _known}")
        lines += _build(self._cls, self._values, "extra" if unknown else "_E", namespace, "    ")
        if shared:
            lines[-1:] = [
                f"    if len(_shared{size}) >= _SHARED_KEPT: _shared{size}.clear()",
                f"    _shared{size}[t] = o",
                "    return o",
            ]
        exec("\n".join(lines), namespace)  # source written from attrs fields
        fast[size] = namespace["fast"]


def _shared_lines(present: list[_Read], size: int, namespace: dict[str, Any]) -> list[str]:
    """Statements returning the instance already built from values equal to this body's.

    Sections of usage answers repeat (the all-zero chat or agent part of most days) and
    instances are immutable, so equal ones are built once. Equal is not enough: ``True == 1``
    and ``1.0 == 1``, so a hit still checks each value's class and leaves any surprise to the
    checks that word it. Only bodies of plain values (counts, strings, booleans) are shared; an
    unhashable value sent in their place (a list for a count) makes the lookup raise, which hands
    the body to the converters like any refusal.
    """
    namespace[f"_shared{size}"] = {}
    namespace["_SHARED_KEPT"] = _SHARED_KEPT
    checks = [
        f"({var}.__class__ is not {plain.__name__} and {var} is not None)"
        for _, var, _, _, plain in present
        if plain is not None and plain is not str  # a string equals only a string
    ]
    lines = [f"    o = _shared{size}.get(t)", "    if o is not None:"]
    if checks:
        lines.append(f"        if {' or '.join(checks)}: raise _R")
    return [*lines, "        return o"]


def _slot_setters(cls: type) -> dict[str, Callable[[Any, Any], None]] | None:
    """Each attribute's slot setter, when an instance may be filled in without ``__init__``.

    A frozen attrs ``__init__`` stores every field through ``object.__setattr__``, which costs
    more than storing through the slot's own descriptor; with no validator, converter, default
    factory, pre- or post-init hook and no slot but the fields', both leave the instance in the
    same state.
    """
    if (
        getattr(cls, "__attrs_pre_init__", None) is not None
        or getattr(cls, "__attrs_post_init__", None) is not None
    ):
        return None
    fields = attrs.fields(cls)
    # Any slot that is not a field (a cached hash, say) is __init__'s to fill in.
    slots = {name for klass in cls.__mro__ for name in klass.__dict__.get("__slots__", ())}
    if not slots <= {a.name for a in fields} | {"__weakref__"}:
        return None
    setters = {}
    for attribute in fields:
        if (
            attribute.validator is not None
            or attribute.converter is not None
            or isinstance(attribute.default, attrs.Factory)  # type: ignore[arg-type]
        ):
            return None
        slot = inspect.getattr_static(cls, attribute.name, None)
        if type(slot) is not types.MemberDescriptorType:
            return None
        setters[attribute.name] = slot.__set__
    return setters


def _build(
    cls: type, values: list[tuple[str, str, bool]], extra: str, namespace: dict[str, Any], at: str
) -> list[str]:
    """Statements that build ``o``, an instance of ``cls`` from ``values`` and ``extra``, and
    return it (the last statement, which callers may replace)."""
    setters = _slot_setters(cls)
    if setters is None:
        # Positional where the class allows it: a keyword call costs more.
        call = ", ".join(f"{name}={var}" if kw_only else var for name, var, kw_only in values)
        if extra != "_E":
            call += f"{', ' if call else ''}extra={extra}"
        return [f"{at}o = _cls({call})", f"{at}return o"]
    namespace["_new"] = object.__new__
    namespace["_E"] = attrs.fields_dict(cls)["extra"].default
    lines = [f"{at}o = _new(_cls)"]
    for n, name in enumerate(setters):
        namespace[f"_set{n}"] = setters[name]
        var = extra if name == "extra" else next(v for a, v, _ in values if a == name)
        lines.append(f"{at}_set{n}(o, {var})")
    return [*lines, f"{at}return o"]


def _exact_str(value: Any) -> str:
    if value.__class__ is not str:
        raise Refused
    return value


def _list_of(one: Structure) -> Structure:
    def structure(value: Any) -> Any:
        if value.__class__ is not list:
            raise Refused
        return [one(item) for item in value]

    return structure


_REPORT_KEYS = frozenset({"organizationId", "teamId", "userId", "from", "to", "usage"})
_USAGE_KEYS = frozenset({"granularity", "data"})


_REPORT_FIELDS = ("organization_id", "start", "end", "granularity", "team_id", "user_id", "extra")


def _report(cls: type, items_attr: str, one: Structure) -> Structure | None:
    """Ids, ``from``/``to`` and the ``usage`` envelope of a report (see ``_convert``)."""
    names = tuple(a.name for a in attrs.fields(cls))
    if names[:4] + names[5:] != _REPORT_FIELDS or names[4] != items_attr:
        return None  # built positionally below: any other field order is left to the converters

    def structure(value: Any) -> Any:
        if value.__class__ is not dict:
            raise Refused
        get = value.get
        organization_id = get("organizationId")
        team_id = get("teamId")
        user_id = get("userId")
        usage = get("usage")
        if (
            organization_id.__class__ is not str
            or (team_id is not None and team_id.__class__ is not str)
            or (user_id is not None and user_id.__class__ is not str)
            or usage.__class__ is not dict
        ):
            raise Refused
        start = get("from", _MISSING)
        start = _datetimes.get(start) or _parse_new_datetime(start)
        end = get("to", _MISSING)
        end = _datetimes.get(end) or _parse_new_datetime(end)
        granularity = _GRANULARITIES.get(usage.get("granularity"))
        items = usage.get("data")
        if granularity is None or items.__class__ is not list:
            raise Refused
        blocks = tuple([one(item) for item in items])
        if _REPORT_KEYS.issuperset(value) and _USAGE_KEYS.issuperset(usage):
            return cls(organization_id, start, end, granularity, blocks, team_id, user_id)
        extra = {k: v for k, v in value.items() if k not in _REPORT_KEYS}
        unknown = {k: v for k, v in usage.items() if k not in _USAGE_KEYS}
        if unknown:
            extra["usage"] = unknown
        return cls(organization_id, start, end, granularity, blocks, team_id, user_id, extra=extra)

    return structure
