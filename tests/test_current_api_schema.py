"""Random bodies valid for the 6.2 API description: every new method parses them or fails typed.

The bodies are generated from the published schemas themselves (a small OpenAPI 3.0 to Hypothesis
translation), so the SDK is checked against the description, not against its own idea of it.
hypothesis-jsonschema would do the translation but does not work with current Hypothesis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tabnine_usage_async import (
    AgentUsageReport,
    AuditEvent,
    Invitation,
    License,
    ManagedUser,
    TabnineClient,
    TabnineError,
    Team,
    UsageReportV2,
    User,
    UserLookup,
)
from tabnine_usage_async._convert import decode
from tabnine_usage_async._wire import RetryPolicy, read_error_body

SPEC_PATH = (
    Path(__file__).resolve().parents[2] / "shared" / "api" / "tabnine-platform-api-6.2.0.yaml"
)
INT64 = (-(2**63), 2**63 - 1)


@cache
def _components() -> dict[str, Any]:
    if not SPEC_PATH.is_file():
        pytest.skip(f"the API description {SPEC_PATH.name!r} beside the repo is absent")
    import yaml

    spec = yaml.safe_load(SPEC_PATH.read_text())
    schemas: dict[str, Any] = spec["components"]["schemas"]
    return schemas


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def rfc3339(draw: st.DrawFn, *, years: tuple[int, int]) -> str:
    """An RFC 3339 date-time: any offset or Z, with or without a fraction, any letter case."""
    moment = draw(st.datetimes(datetime(years[0], 1, 1), datetime(years[1], 12, 31)))
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if draw(st.booleans()):
        text += "." + str(draw(st.integers(0, 999_999))).zfill(draw(st.integers(1, 6)))[:9]
    minutes = draw(st.integers(-23 * 60 - 59, 23 * 60 + 59) | st.just(0))
    if minutes == 0 and draw(st.booleans()):
        text += draw(st.sampled_from(["Z", "z"]))
    else:
        sign = "-" if minutes < 0 else "+"
        text += f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return text if draw(st.booleans()) else text.replace("T", draw(st.sampled_from(["t", "T"])))


def strategy(node: Any, *, realistic: bool) -> st.SearchStrategy[Any]:
    """Values valid for an OpenAPI 3.0 schema node, written for the subset the 6.2 YAML uses.

    ``realistic`` keeps integers within 64 bits and date-times within years 1900-2200, as every
    real server sends them; otherwise anything the description allows.
    """
    if "$ref" in node:
        target = _components()[node["$ref"].rsplit("/", 1)[-1]]
        base = strategy(target, realistic=realistic)
    elif "enum" in node:
        base = st.sampled_from(node["enum"])
    else:
        kind = node.get("type")
        if kind == "object" or "properties" in node:
            base = _object(node, realistic=realistic)
        elif kind == "array":
            base = st.lists(
                strategy(node["items"], realistic=realistic),
                min_size=node.get("minItems", 0),
                max_size=max(3, node.get("minItems", 0)),
            )
        elif kind == "string":
            fmt = node.get("format")
            if fmt == "date-time":
                base = rfc3339(years=(1900, 2200) if realistic else (1, 9999))
            elif fmt == "uuid":
                base = st.uuids().map(str)
            elif fmt == "email":
                base = st.from_regex(r"\A[a-z0-9.+]{1,8}@example\.com\Z")
            else:
                base = st.text(max_size=12)
        elif kind == "integer":
            low = node.get("minimum", INT64[0] if realistic else None)
            high = node.get("maximum", INT64[1] if realistic else None)
            base = st.integers(low, high)
        elif kind == "number":
            base = st.floats(node.get("minimum"), allow_nan=False, allow_infinity=False)
        elif kind == "boolean":
            base = st.booleans()
        else:
            base = json_values
    return st.none() | base if node.get("nullable") else base


def _object(node: dict[str, Any], *, realistic: bool) -> st.SearchStrategy[dict[str, Any]]:
    properties = node.get("properties", {})
    required = set(node.get("required", ()))
    known = st.fixed_dictionaries(
        {k: strategy(v, realistic=realistic) for k, v in properties.items() if k in required},
        optional={
            k: strategy(v, realistic=realistic) for k, v in properties.items() if k not in required
        },
    )
    if node.get("additionalProperties") is False:
        return known
    # Unknown keys are allowed (the default): a newer server's additions.
    extras = st.dictionaries(
        st.text(max_size=8).filter(lambda k: k not in properties), json_values, max_size=2
    )
    return st.tuples(known, extras).map(lambda pair: {**pair[1], **pair[0]})


def bodies(schema: str | dict[str, Any], *, realistic: bool = False) -> st.SearchStrategy[Any]:
    """Random JSON valid for a component schema (by name) or an inline schema."""
    node = {"$ref": f"#/components/schemas/{schema}"} if isinstance(schema, str) else schema
    return strategy(node, realistic=realistic)


# -- every 64-bit schema-valid body decodes --------------------------------------------------------

DECODED: list[tuple[str | dict[str, Any], Any]] = [
    ("V2OrganizationUsageResponse", UsageReportV2),
    ("V2TeamUsageResponse", UsageReportV2),
    ("V2UserUsageResponse", UsageReportV2),
    ("OrganizationAgentUsageResponse", AgentUsageReport),
    ("TeamAgentUsageResponse", AgentUsageReport),
    ("UserAgentUsageResponse", AgentUsageReport),
    ("AuditLogEvent", AuditEvent),
    ("Invitation", Invitation),
    ("GetUserResponse", ManagedUser),
    ("UserLookup", UserLookup),
    ("Team", Team),
    ("User", User),
    ("License", License),
    ({"type": "array", "items": {"$ref": "#/components/schemas/Team"}}, list[Team]),
]


@pytest.mark.parametrize(
    ("schema", "cls"), DECODED, ids=[str(s) if isinstance(s, str) else "Team[]" for s, _ in DECODED]
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_schema_valid_body_decodes(schema: Any, cls: Any, data: st.DataObject) -> None:
    """A body the 6.2 description allows (64-bit integers, years 1900-2200) always decodes."""
    body = data.draw(bodies(schema, realistic=True))
    decode(body, cls, endpoint="/test")


@settings(max_examples=60, deadline=None)
@given(body=bodies("Error"))
def test_every_error_body_is_read(body: Any) -> None:
    """Any 6.2 error body is read without raising, keeping a code and request id when sent."""
    read = read_error_body(json.dumps(body).encode())
    assert isinstance(read.message, str)
    if isinstance(body.get("requestId"), str) and body["requestId"].strip():
        assert read.request_id is not None


# -- every new method, over HTTP, with any schema-valid body ---------------------------------------

Call = Callable[[TabnineClient], Awaitable[Any]]


async def _drain(iterator: Any) -> list[Any]:
    return [item async for item in iterator]


DATES = ("2026-01-01", "2026-01-08", "daily")
METHODS: list[tuple[str, str | dict[str, Any], Call]] = [
    ("org_v2", "V2OrganizationUsageResponse", lambda c: c.get_organization_usage_v2(*DATES)),
    ("team_v2", "V2TeamUsageResponse", lambda c: c.get_team_usage_v2("t", *DATES)),
    ("user_v2", "V2UserUsageResponse", lambda c: c.get_user_usage_v2("u", *DATES)),
    (
        "org_agent",
        "OrganizationAgentUsageResponse",
        lambda c: c.get_organization_agent_usage(*DATES),
    ),
    ("team_agent", "TeamAgentUsageResponse", lambda c: c.get_team_agent_usage("t", *DATES)),
    ("user_agent", "UserAgentUsageResponse", lambda c: c.get_user_agent_usage("u", *DATES)),
    ("audit", "AuditLogPage", lambda c: _drain(c.iter_audit_logs())),
    ("invitations", "ListInvitationsResponse", lambda c: _drain(c.iter_invitations())),
    ("managed_user", "GetUserResponse", lambda c: c.get_managed_user("u")),
    ("by_email", "UserLookup", lambda c: c.get_user_by_email("a@example.com")),
    (
        "allowed_teams",
        {"type": "array", "items": {"$ref": "#/components/schemas/Team"}},
        lambda c: c.get_allowed_teams("u"),
    ),
    ("team_details", "Team", lambda c: c.get_team_details("t")),
    ("license", "LicenseResponse", lambda c: c.get_license()),
    ("teams", "TeamListResponse", lambda c: _drain(c.iter_teams())),
    ("users", "PaginatedUsersResponse", lambda c: _drain(c.iter_unassigned_users())),
]


async def _call_with(body: Any, call: Call, status: int = 200) -> None:
    async def handle(request: web.Request) -> web.Response:
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with TabnineClient(
            token="t",
            base_url=f"http://127.0.0.1:{server.port}",
            organization_id="org-1",
            max_retries=0,
            retry_policy=RetryPolicy(max_retries=0),
        ) as client:
            with contextlib.suppress(TabnineError):  # the only failure allowed
                await call(client)
    finally:
        await server.close()


@pytest.mark.parametrize(
    ("schema", "call"), [(s, c) for _, s, c in METHODS], ids=[n for n, *_ in METHODS]
)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_method_parses_random_bodies(schema: Any, call: Call, data: st.DataObject) -> None:
    """Each method, given any body valid for its 200 schema, returns or raises a TabnineError."""
    body = data.draw(bodies(schema))
    asyncio.run(_call_with(body, call))


@pytest.mark.parametrize(("call"), [c for *_, c in METHODS], ids=[n for n, *_ in METHODS])
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies("Error"), status=st.sampled_from([400, 401, 403, 404, 409, 422, 500]))
def test_every_method_types_random_error_bodies(call: Call, body: Any, status: int) -> None:
    """Each method, given any 6.2 error body with an error status, raises a TabnineError."""
    asyncio.run(_call_with(body, call, status))
