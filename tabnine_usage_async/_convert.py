"""Wire JSON <-> attrs models, with cattrs.

The models know nothing about JSON; every wire rule lives here: camelCase renames, the zero-based
month of account utilizations, the raw Unix timestamps of the license, the ``usage`` container of
reports (v1, v2 and agent usage), the snake_case ``user``/``teams`` bodies of ``/api/v1/user/{id}``
and ``/api/user/v1/{userId}``.

Rules every hook follows:
- Unknown keys never fail parsing; they are kept, as received, in the model's ``extra``.
- Types are checked strictly: cattrs' defaults would turn ``"false"`` into ``True`` and ``12`` into
  ``"12"``; a count must be a non-negative integer that fits in 64 bits, a ratio a finite number.
- The fast converter (no detailed validation) is used on every response. Only when it fails is
  the body structured again by a detailed converter, to name the exact field path in the error.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable, Mapping
from datetime import date, datetime, timezone
from functools import lru_cache
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.cols import homogenous_tuple_structure_factory, is_sequence, list_structure_factory
from cattrs.errors import AttributeValidationNote, ClassValidationError, IterableValidationError
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.v import format_exception, transform_error

from ._compiled import Compiler
from ._mirror import Mirrors
from .errors import DecodeError
from .models import (
    AccountUtilization,
    AgentModelUsage,
    AgentTypeUsage,
    AgentUsagePoint,
    AgentUsageReport,
    AgentUsageV2,
    AuditActor,
    AuditEvent,
    AuditRequestContext,
    AuditResource,
    ChatUsage,
    ChatUsageV2,
    CodeCompletionsUsage,
    CodeCompletionsUsageV2,
    Granularity,
    Invitation,
    License,
    ManagedUser,
    ModelUsage,
    Organization,
    PermissionUser,
    Team,
    TeamInfo,
    TeamUtilization,
    UsageBlock,
    UsageBucket,
    UsageReport,
    UsageReportV2,
    User,
    UserInfo,
    UserLookup,
    UserTeam,
)
from .windows import parse_datetime

__all__ = ["decode", "make_converter"]

T = TypeVar("T")

_INT64_MAX = 2**63 - 1
_EXTRA_KEY = "\x00extra"  # cannot collide with a JSON key a server would send

# attribute name -> wire name, for the classes cattrs can generate hooks for.
_RENAMES: dict[type, dict[str, str]] = {
    Organization: {
        "public_key": "publicKey",
        "saml_enabled": "samlEnabled",
        "smtp_configured": "smtpConfigured",
        "username_password_enabled": "usernamePasswordEnabled",
        "plan_type": "planType",
    },
    Team: {
        "users_count": "usersCount",
        "is_default_team": "isDefaultTeam",
        "organization_id": "organizationId",
        "synced_group_id": "syncedGroupId",
        "seat_cap": "seatCap",
        "pending_invitations_count": "pendingInvitationsCount",
    },
    TeamInfo: {},
    PermissionUser: {"organization_id": "organizationId"},
    User: {"deactivated_at": "deactivatedAt", "updated_at": "updatedAt"},
    UserTeam: {},
    TeamUtilization: {},
    CodeCompletionsUsage: {
        "active_users": "activeUsers",
        "chars_completed": "charsCompleted",
        "automation_factor": "automationFactor",
    },
    ChatUsage: {
        "active_users": "activeUsers",
        "useful_interactions": "usefulChatInteractions",
        "chars_completed": "charsCompleted",
        "consumption_rate": "chatConsumptionRate",
    },
    UsageBlock: {
        "start": "from",
        "end": "to",
        "active_users": "activeUsers",
        "productivity_factor": "productivityFactor",
        "code_completions": "codeCompletions",
    },
    License: {"expires_at_unix": "exp", "issued_at_unix": "iat", "seats_cap": "seatsCap"},
    ModelUsage: {
        "unique_users": "uniqueUsers",
        "input_tokens": "inputTokens",
        "output_tokens": "outputTokens",
    },
    CodeCompletionsUsageV2: {"active_users": "activeUsers", "chars_completed": "charsCompleted"},
    ChatUsageV2: {"active_users": "activeUsers", "lines_added": "linesAdded"},
    AgentUsageV2: {
        "active_users": "activeUsers",
        "lines_added": "linesAdded",
        "lines_added_accepted": "linesAddedAccepted",
        "lines_removed": "linesRemoved",
        "lines_removed_accepted": "linesRemovedAccepted",
    },
    UsageBucket: {
        "start": "from",
        "end": "to",
        "active_users": "activeUsers",
        "code_completions": "codeCompletions",
    },
    AgentModelUsage: {
        "tokens": "tokensConsumed",
        "input_tokens": "inputTokens",
        "output_tokens": "outputTokens",
    },
    AgentTypeUsage: {
        "agent_type": "agentType",
        "active_users": "activeUsers",
        "lines_added": "linesAdded",
        "lines_added_accepted": "linesAddedAccepted",
        "lines_removed": "linesRemoved",
        "lines_removed_accepted": "linesRemovedAccepted",
        "tokens": "tokensConsumed",
        "input_tokens": "inputTokens",
        "output_tokens": "outputTokens",
        "user_initiated_messages": "userInitiatedMessages",
        "models": "modelBreakdown",
    },
    AgentUsagePoint: {
        "start": "from",
        "end": "to",
        "active_users": "activeUsers",
        "total_tokens": "totalTokensConsumed",
        "total_input_tokens": "totalInputTokens",
        "total_output_tokens": "totalOutputTokens",
        "total_cost": "totalCost",
        "models": "modelBreakdown",
        "agent_types": "agentTypeBreakdown",
    },
    AuditActor: {"display_name": "displayName"},
    AuditResource: {},
    AuditRequestContext: {
        "ip_address": "ipAddress",
        "user_agent": "userAgent",
        "client_id": "clientId",
        "request_id": "requestId",
    },
    AuditEvent: {"event_type": "eventType"},
    Invitation: {
        "team_id": "teamId",
        "created_at": "createdAt",
        "expires_at": "expiresAt",
        "revoked_at": "revokedAt",
    },
    UserLookup: {"allowed_teams": "allowedTeams"},
}

# Attribute names in cattrs' error paths, turned back into the names the server sent.
_PATH_NAMES: dict[str, str] = {
    name: wire for renames in _RENAMES.values() for name, wire in renames.items()
}


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


# -- primitive hooks ---------------------------------------------------------------------------


def _structure_str(value: Any, _: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {_type_name(value)}")
    return value


def _structure_bool(value: Any, _: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected a boolean, got {_type_name(value)}")
    return value


def _structure_count(value: Any, _: object) -> int:
    if type(value) is int and 0 <= value <= _INT64_MAX:  # the common case, checked first
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected a non-negative integer, got {_type_name(value)}")
    if isinstance(value, float):
        # The API may send counts as floats ("3.0"); accept them only when they are whole.
        if not value.is_integer():
            raise ValueError(f"expected a whole number, got {value!r}")
        value = int(value)
    assert isinstance(value, int)
    if value < 0 or value > _INT64_MAX:
        raise ValueError(f"expected a non-negative integer below 2**63, got {value}")
    return value


def _structure_float(value: Any, _: object) -> float:
    if type(value) is float and math.isfinite(value):  # the common case, checked first
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected a number, got {_type_name(value)}")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"expected a finite number, got {value!r}")
    return result


# Reports repeat the same few period boundaries in every block of every response, and datetimes
# are immutable, so parsed values are shared. Failures are not cached (they raise).
_parse_datetime_cached = lru_cache(maxsize=4096)(parse_datetime)


def _structure_signed(value: Any, _: object) -> int:
    # For integers the schema leaves unbounded in sign (a seat cap, Unix timestamps).
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected an integer, got {_type_name(value)}")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"expected a whole number, got {value!r}")
        value = int(value)
    assert isinstance(value, int)
    return value


# Fields whose wire type differs from what their Python type's hook checks.
_FIELD_HOOKS: dict[type, dict[str, Callable[[Any, Any], Any]]] = {
    License: {"expires_at_unix": _structure_signed, "issued_at_unix": _structure_signed},
    Team: {"seat_cap": _structure_signed},
}


def _structure_datetime(value: Any, _: object) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an RFC 3339 date-time string, got {_type_name(value)}")
    return _parse_datetime_cached(value)


def _unstructure_datetime(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _structure_mapping(value: Any, _: object) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {_type_name(value)}")
    return value


def _structure_granularity(value: Any, _: object) -> Granularity:
    if not isinstance(value, str):
        raise TypeError(f"expected a granularity string, got {_type_name(value)}")
    return Granularity(value)


def _require_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {_type_name(value)}")
    return value


# -- hooks for attrs classes --------------------------------------------------------------------


def _optional_inner(typ: Any) -> Any:
    """``X`` for ``X | None`` (``Optional[X]``), else ``None``."""
    if typing.get_origin(typ) not in (typing.Union, types.UnionType):
        return None
    args = typing.get_args(typ)
    if len(args) != 2 or type(None) not in args:
        return None
    return args[0] if args[1] is type(None) else args[1]


def _lean_structure(conv: cattrs.Converter, cls: type, renames: Mapping[str, str]) -> Any:
    """A structure hook for the fast converter: one pass over the wire keys, hooks resolved once.

    It accepts exactly what cattrs' generated hook accepts (the same per-field hooks; ``None``
    for an optional field; a missing required field fails when the class is built) and builds
    the same object, without cattrs' per-field dispatch. Any failure sends ``decode`` to the
    detailed converter, which names the field.
    """
    fields = [a for a in attrs.fields(cls) if a.name != "extra"]
    wire_names = {renames.get(a.name, a.name): a for a in fields}
    resolved: dict[str, tuple[str, Callable[[Any, Any], Any], Any, bool]] = {}

    def resolve() -> None:
        # Lazily, so hooks registered after this class (nested models) are the ones used.
        hints = typing.get_type_hints(cls)
        for wire, attribute in wire_names.items():
            typ = hints[attribute.name]
            inner = _optional_inner(typ)
            target = typ if inner is None else inner
            special = _FIELD_HOOKS.get(cls, {}).get(attribute.name)
            resolved[wire] = (
                attribute.name,
                special or conv.get_structure_hook(target),
                target,
                inner is not None,
            )

    def structure(value: Any, _: object) -> Any:
        if not resolved:
            resolve()
        if not isinstance(value, dict):
            raise TypeError(f"expected an object, got {_type_name(value)}")
        kwargs: dict[str, Any] = {}
        extras: dict[str, Any] | None = None
        for key, item in value.items():
            spec = resolved.get(key)
            if spec is None:
                if extras is None:
                    extras = {}
                extras[key] = item
                continue
            name, hook, target, optional = spec
            kwargs[name] = None if optional and item is None else hook(item, target)
        if extras:
            kwargs["extra"] = extras
        return cls(**kwargs)

    return structure


def _detailed_structure(conv: cattrs.Converter, cls: type, renames: Mapping[str, str]) -> Any:
    """cattrs' generated hook, which names the failing attribute; unknown keys go to ``extra``."""
    known = frozenset(renames.get(a.name, a.name) for a in attrs.fields(cls) if a.name != "extra")
    overrides = {name: override(rename=wire) for name, wire in renames.items()}
    for name, hook in _FIELD_HOOKS.get(cls, {}).items():
        overrides[name] = override(rename=renames.get(name, name), struct_hook=_none_or(hook))
    base: Callable[[Mapping[str, Any], Any], Any] = make_dict_structure_fn(
        cls,
        conv,
        _cattrs_detailed_validation=True,
        extra=override(rename=_EXTRA_KEY, struct_hook=lambda v, _: v),
        **overrides,  # type: ignore[arg-type]
    )

    def structure(value: Any, _: object) -> Any:
        data = _require_object(value)
        extras = {k: v for k, v in data.items() if k not in known}
        if extras:
            data = {**data, _EXTRA_KEY: extras}
        return base(data, cls)

    return structure


def _none_or(hook: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    # Special hooks only exist for optional fields, where null means absent.
    def structure(value: Any, typ: Any) -> Any:
        return None if value is None else hook(value, typ)

    return structure


def _register_class(conv: cattrs.Converter, cls: type, renames: Mapping[str, str]) -> None:
    """Register hooks that rename keys and keep unknown ones, both ways."""
    if conv.detailed_validation:
        conv.register_structure_hook(cls, _detailed_structure(conv, cls, renames))
    else:
        # Every response goes through the fast converter: skip cattrs' per-field dispatch there.
        conv.register_structure_hook(cls, _lean_structure(conv, cls, renames))
    base_unstructure: Callable[[Any], dict[str, Any]] = make_dict_unstructure_fn(
        cls,
        conv,
        _cattrs_omit_if_default=True,
        extra=override(omit=True),
        **{name: override(rename=wire) for name, wire in renames.items()},  # type: ignore[arg-type]
    )

    def unstructure(obj: Any) -> dict[str, Any]:
        wire = base_unstructure(obj)
        return {**obj.extra, **wire} if obj.extra else wire

    conv.register_unstructure_hook(cls, unstructure)


class _Fields:
    """Structure named wire fields one by one, collecting errors the way cattrs does.

    Used by the hand-written hooks so that a detailed converter can still name the field path.
    """

    def __init__(self, conv: cattrs.Converter, cls: type) -> None:
        self._conv = conv
        self._cls = cls
        self._errors: list[Exception] = []
        self.values: dict[str, Any] = {}

    def take(
        self,
        attr: str,
        path: str,
        value: Any,
        typ: Any,
        *,
        hook: Callable[[Any, Any], Any] | None = None,
    ) -> None:
        try:
            self.values[attr] = hook(value, typ) if hook else self._conv.structure(value, typ)
        except Exception as exc:
            if not self._conv.detailed_validation:
                raise
            note = AttributeValidationNote(f"Structuring {path}", path, typ)
            exc.__notes__ = [*getattr(exc, "__notes__", []), note]  # type: ignore[attr-defined]
            self._errors.append(exc)

    def missing(self, path: str) -> None:
        self.take(path, path, None, Any, hook=_raise_missing)

    def build(self, **fixed: Any) -> Any:
        if self._errors:
            raise ClassValidationError(
                f"While structuring {self._cls.__name__}", self._errors, self._cls
            )
        return self._cls(**self.values, **fixed)


def _raise_missing(_value: Any, _typ: Any) -> Any:
    raise KeyError("required field missing")


def _structure_account_utilization(conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    known = frozenset({"year", "month", "registered", "deactivated", "active", "pending"})

    def structure(value: Any, _: object) -> AccountUtilization:
        data = _require_object(value)
        fields = _Fields(conv, AccountUtilization)
        for key in sorted(known):
            if key not in data:
                fields.missing(key)
            elif key not in ("year", "month"):
                fields.take(key, key, data[key], int)
        year, month = data.get("year"), data.get("month")
        if "year" in data and "month" in data:
            fields.take("month_start", "month", (year, month), date, hook=_month_start)
        extras = {k: v for k, v in data.items() if k not in known}
        return fields.build(extra=extras) if extras else fields.build()  # type: ignore[no-any-return]

    return structure


def _month_start(value: tuple[Any, Any], _: object) -> date:
    year = _structure_count(value[0], None)
    month = _structure_count(value[1], None)
    # The wire month is zero-based: 0 is January.
    if not 0 <= month <= 11:
        raise ValueError(f"expected a zero-based month 0..11, got {month}")
    if not 1 <= year <= 9999:
        raise ValueError(f"expected a calendar year, got {year}")
    return date(year, month + 1, 1)


def _unstructure_account_utilization(obj: AccountUtilization) -> dict[str, Any]:
    wire = {
        "year": obj.month_start.year,
        "month": obj.month_start.month - 1,
        "registered": obj.registered,
        "deactivated": obj.deactivated,
        "active": obj.active,
        "pending": obj.pending,
    }
    return {**obj.extra, **wire}


def _structure_user_info(conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    user_keys = {
        "user_id": "user_id",
        "organization_id": "organization_id",
        "email": "email",
        "role": "role",
        "created_at": "createdAt",
        "updated_at": "updatedAt",
    }
    types = {"created_at": datetime | None, "updated_at": datetime | None}

    def structure(value: Any, _: object) -> UserInfo:
        data = _require_object(value)
        fields = _Fields(conv, UserInfo)
        extras: dict[str, Any] = {k: v for k, v in data.items() if k not in ("user", "teams")}
        user = data.get("user")
        if user is not None:
            fields.take("user", "user", user, dict, hook=_structure_mapping)
            if isinstance(user, dict):
                for attr, wire in user_keys.items():
                    if wire in user:
                        typ = types.get(attr, str | None)
                        fields.take(attr, f"user.{wire}", user[wire], typ)
                unknown = {k: v for k, v in user.items() if k not in user_keys.values()}
                if unknown:
                    extras["user"] = unknown
            fields.values.pop("user", None)
        teams = data.get("teams")
        if isinstance(teams, dict):
            # The published schema has one object; a user in no team may get an empty one.
            teams = [teams] if teams else []
        if teams is not None:
            fields.take("teams", "teams", teams, tuple[UserTeam, ...])
        return fields.build(extra=extras) if extras else fields.build()  # type: ignore[no-any-return]

    return structure


def _unstructure_user_info(conv: cattrs.Converter) -> Callable[[UserInfo], dict[str, Any]]:
    def unstructure(obj: UserInfo) -> dict[str, Any]:
        user: dict[str, Any] = dict(obj.extra.get("user", {}))
        for attr, wire in (
            ("user_id", "user_id"),
            ("organization_id", "organization_id"),
            ("email", "email"),
            ("role", "role"),
        ):
            if getattr(obj, attr) is not None:
                user[wire] = getattr(obj, attr)
        if obj.created_at is not None:
            user["createdAt"] = _unstructure_datetime(obj.created_at)
        if obj.updated_at is not None:
            user["updatedAt"] = _unstructure_datetime(obj.updated_at)
        extras = {k: v for k, v in obj.extra.items() if k != "user"}
        teams = [conv.unstructure(team) for team in obj.teams]
        return {**extras, "user": user, "teams": teams}

    return unstructure


_REPORT_KEYS = frozenset({"organizationId", "teamId", "userId", "from", "to", "usage"})


def _structure_report(
    conv: cattrs.Converter, cls: type, items_attr: str, item: type
) -> Callable[[Any, Any], Any]:
    """The hook of a usage-shaped report: ids, ``from``/``to`` and a ``usage`` envelope."""

    def structure(value: Any, _: object) -> Any:
        data = _require_object(value)
        fields = _Fields(conv, cls)
        for attr, wire, typ in (
            ("organization_id", "organizationId", str),
            ("start", "from", datetime),
            ("end", "to", datetime),
        ):
            if wire in data:
                fields.take(attr, wire, data[wire], typ)
            else:
                fields.missing(wire)
        for attr, wire in (("team_id", "teamId"), ("user_id", "userId")):
            if wire in data:
                fields.take(attr, wire, data[wire], str | None)
        extras: dict[str, Any] = {k: v for k, v in data.items() if k not in _REPORT_KEYS}
        usage = data.get("usage")
        if usage is None:
            fields.missing("usage")
        elif not isinstance(usage, dict):
            fields.take("usage", "usage", usage, dict, hook=_structure_mapping)
        else:
            if "granularity" in usage:
                fields.take("granularity", "usage.granularity", usage["granularity"], Granularity)
            else:
                fields.missing("usage.granularity")
            if "data" in usage:
                fields.take(items_attr, "usage.data", usage["data"], tuple[item, ...])  # type: ignore[valid-type]
            else:
                fields.missing("usage.data")
            unknown = {k: v for k, v in usage.items() if k not in ("granularity", "data")}
            if unknown:
                extras["usage"] = unknown
        return fields.build(extra=extras) if extras else fields.build()

    return structure


def _unstructure_report(conv: cattrs.Converter, items_attr: str) -> Callable[[Any], dict[str, Any]]:
    def unstructure(obj: Any) -> dict[str, Any]:
        extras = dict(obj.extra)
        usage: dict[str, Any] = dict(extras.pop("usage", {}))
        usage["granularity"] = obj.granularity.value
        usage["data"] = [conv.unstructure(entry) for entry in getattr(obj, items_attr)]
        wire: dict[str, Any] = {**extras, "organizationId": obj.organization_id}
        if obj.team_id is not None:
            wire["teamId"] = obj.team_id
        if obj.user_id is not None:
            wire["userId"] = obj.user_id
        wire["from"] = _unstructure_datetime(obj.start)
        wire["to"] = _unstructure_datetime(obj.end)
        wire["usage"] = usage
        return wire

    return unstructure


_MANAGED_USER_KEYS = {"user_id": "user_id", "email": "email", "role": "role", "active": "active"}
_MANAGED_USER_TYPES: dict[str, Any] = {
    "user_id": str,
    "email": str,
    "role": str,
    "active": bool | None,
}


def _structure_managed_user(conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    """``{user: {user_id, email, role, active, allowedTeams}, teams: {team_id, team_name}}``."""

    def structure(value: Any, _: object) -> ManagedUser:
        data = _require_object(value)
        fields = _Fields(conv, ManagedUser)
        extras: dict[str, Any] = {k: v for k, v in data.items() if k not in ("user", "teams")}
        user = data.get("user")
        if user is None:
            fields.missing("user")
        elif not isinstance(user, dict):
            fields.take("user", "user", user, dict, hook=_structure_mapping)
        else:
            for attr, wire in _MANAGED_USER_KEYS.items():
                typ = _MANAGED_USER_TYPES[attr]
                if wire in user:
                    fields.take(attr, f"user.{wire}", user[wire], typ)
                elif typ in (str,):
                    fields.missing(f"user.{wire}")
            if "allowedTeams" in user:
                fields.take(
                    "allowed_teams",
                    "user.allowedTeams",
                    user["allowedTeams"],
                    tuple[Team, ...] | None,
                )
            known = {*_MANAGED_USER_KEYS.values(), "allowedTeams"}
            unknown = {k: v for k, v in user.items() if k not in known}
            if unknown:
                extras["user"] = unknown
        teams = data.get("teams")
        if teams is not None:
            fields.take("team", "teams", teams, UserTeam)
        return fields.build(extra=extras) if extras else fields.build()  # type: ignore[no-any-return]

    return structure


def _unstructure_managed_user(conv: cattrs.Converter) -> Callable[[ManagedUser], dict[str, Any]]:
    def unstructure(obj: ManagedUser) -> dict[str, Any]:
        user: dict[str, Any] = dict(obj.extra.get("user", {}))
        user.update(user_id=obj.user_id, email=obj.email, role=obj.role)
        if obj.active is not None:
            user["active"] = obj.active
        if obj.allowed_teams is not None:
            user["allowedTeams"] = [conv.unstructure(team) for team in obj.allowed_teams]
        wire: dict[str, Any] = {k: v for k, v in obj.extra.items() if k != "user"}
        wire["user"] = user
        if obj.team is not None:
            wire["teams"] = conv.unstructure(obj.team)
        return wire

    return unstructure


def _register_strict_sequences(conv: cattrs.Converter) -> None:
    # cattrs builds a tuple from any iterable, so an object {"a": 1} would become ("a",).
    def factory(typ: Any) -> Callable[[Any, Any], Any]:
        origin = getattr(typ, "__origin__", typ)
        if origin is tuple:
            base = homogenous_tuple_structure_factory(typ, conv)
        else:
            base = list_structure_factory(typ, conv)

        def structure(value: Any, target: Any) -> Any:
            if not isinstance(value, list):
                raise TypeError(f"expected an array, got {_type_name(value)}")
            return base(value, target)

        return structure

    conv.register_structure_hook_factory(is_sequence, factory)


def make_converter(*, detailed_validation: bool = False) -> cattrs.Converter:
    """Build a converter that turns wire JSON into models and back.

    Example::

        conv = make_converter()
        team = conv.structure({"id": "t1", "name": "QA", "usersCount": 2}, Team)
    """
    conv = cattrs.Converter(detailed_validation=detailed_validation)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(int, _structure_count)
    conv.register_structure_hook(float, _structure_float)
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_unstructure_hook(datetime, _unstructure_datetime)
    conv.register_structure_hook(Granularity, _structure_granularity)
    conv.register_unstructure_hook(Granularity, lambda g: g.value)
    conv.register_structure_hook_func(lambda t: t == Mapping[str, Any], _structure_mapping)
    conv.register_structure_hook(dict, _structure_mapping)
    _register_strict_sequences(conv)
    for cls, renames in _RENAMES.items():
        _register_class(conv, cls, renames)
    conv.register_structure_hook(AccountUtilization, _structure_account_utilization(conv))
    conv.register_unstructure_hook(AccountUtilization, _unstructure_account_utilization)
    conv.register_structure_hook(UserInfo, _structure_user_info(conv))
    conv.register_unstructure_hook(UserInfo, _unstructure_user_info(conv))
    for report, items_attr, item in (
        (UsageReport, "blocks", UsageBlock),
        (UsageReportV2, "buckets", UsageBucket),
        (AgentUsageReport, "points", AgentUsagePoint),
    ):
        conv.register_structure_hook(report, _structure_report(conv, report, items_attr, item))
        conv.register_unstructure_hook(report, _unstructure_report(conv, items_attr))
    conv.register_structure_hook(ManagedUser, _structure_managed_user(conv))
    conv.register_unstructure_hook(ManagedUser, _unstructure_managed_user(conv))
    return conv


@lru_cache(maxsize=1)
def _converters() -> tuple[cattrs.Converter, cattrs.Converter]:
    return make_converter(), make_converter(detailed_validation=True)


_REPORTS: dict[type, tuple[str, type]] = {
    UsageReport: ("blocks", UsageBlock),
    UsageReportV2: ("buckets", UsageBucket),
    AgentUsageReport: ("points", AgentUsagePoint),
}

# Written once per class on first use; see ``_compiled`` and ``_mirror`` for what they accept.
_COMPILED = Compiler(_RENAMES, _FIELD_HOOKS, _REPORTS)
_MIRRORS = Mirrors(_RENAMES, _FIELD_HOOKS, _REPORTS)


def _wire_path(path: str) -> str:
    # cattrs names attributes; users debugging a response want the keys the server sent.
    out = []
    for part in path.split("."):
        head, bracket, rest = part.partition("[")
        out.append(_PATH_NAMES.get(head, head) + bracket + rest)
    return ".".join(out)


def _describe(exc: BaseException, typ: Any) -> str:
    # Our hooks raise messages written for people; keep them instead of cattrs' generic text.
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, (TypeError, ValueError)) and str(exc):
        return str(exc)
    return format_exception(exc, typ)


def decode(data: Any, cls: type[T] | Any, *, endpoint: str, root: str = "$") -> T:
    """Structure ``data`` into ``cls``, or raise a ``DecodeError`` naming the field path.

    Example::

        team = decode({"id": "t1", "name": "QA"}, Team, endpoint="/api/v1/team/{teamId}")
    """
    # The fast paths only ever accept; whatever they refuse, the converters below accept after
    # all or word the error.
    for fast_path in (_MIRRORS.get(cls), _COMPILED.get(cls)):
        if fast_path is not None:
            try:
                return fast_path(data)  # type: ignore[no-any-return]
            except Exception:
                pass
    fast, detailed = _converters()
    try:
        return fast.structure(data, cls)  # type: ignore[no-any-return]
    except Exception:
        pass
    try:
        detailed.structure(data, cls)
    except (ClassValidationError, IterableValidationError) as exc:
        messages = transform_error(exc, path=root, format_exception=_describe)
        first = messages[0] if messages else str(exc)
        reason, _, path = first.rpartition(" @ ")
        raise DecodeError(reason or first, endpoint=endpoint, field=_wire_path(path)) from None
    except Exception as exc:
        raise DecodeError(str(exc) or type(exc).__name__, endpoint=endpoint, field=root) from None
    # The detailed converter accepted what the fast one refused; report rather than guess.
    raise DecodeError("the body does not fit the expected schema", endpoint=endpoint)
