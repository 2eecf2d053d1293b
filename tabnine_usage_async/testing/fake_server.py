"""The fake Tabnine Usage Metrics API as an ``aiohttp.web`` application.

It serves the 13 GET endpoints of the published v1 description and the 6.2 read routes, with
the live API's habits: Bearer auth, ``organizationId`` checks (401 "Invalid organization"),
strict date-time parameters, the ``{"error": {"message", "errors", "status"}}`` envelope,
capped pagination whose last page has ``meta.next`` absent or null (alternating), zero-based
``month`` and snake_case keys inside ``/api/v1/user/{user_id}``. Optional knobs add latency,
slow bodies, a rate limit and faults.

Decisions where the sources are silent:

- ``/api/v1/user/{user_id}``: ``teams`` is the user's first team, ``{}`` for users in no team.
- ``/api/v1/organization/users``: ``teamMember=false`` lists users in no team and
  ``teamMember=true`` users in at least one; ``organizationId`` is optional but checked.
- ``/api/v1/organization/teams`` defaults to ``offset=0, limit=50``.
- Team user lists include deactivated members (with ``deactivatedAt``); ``usersCount`` counts
  them too.

Tabnine 6.2 (``FakeServerConfig.version``, default ``"6.2"``); the 6.2-only routes and their own
decisions are in ``_routes62``:

- Error envelopes: the 6.2-only routes answer ``{error: <CODE>, message, status, requestId,
  details}`` (with an ``X-Request-Id`` header), also for injected faults, rate limits and auth
  failures. The legacy routes keep the nested envelope people observed on the live API, even
  on 6.2, although the 6.2 description documents the new body for them too: the API notes win
  over the description, and clients must accept both.
- Teams (``/api/v1/organization/teams``, ``/api/team/v1/{teamid}``) carry ``organizationId``,
  ``syncedGroupId`` (``null`` unless synced), ``seatCap`` (only when configured) and
  ``pendingInvitationsCount``; organization users carry their first ``team``, omitted for
  users in no team (the description's nullable ``$ref`` is not portable). A 5.x fake omits
  all of them and answers 404 on every 6.2-only route, as an older installation does.
- ``v1_cutover``: on a 6.2 fake the v1 usage endpoints count no activity from that day on;
  the default ``None`` keeps v1 complete so that v1-only tests see data.
- No rate limit is documented: ``rate_limit`` applies to every route alike.

Control endpoints (``POST /__fake__/clock``, ``/__fake__/correct``, ``/__fake__/add-user``,
``/__fake__/deactivate-user``, JSON bodies) let a fake in another process be driven; see
:func:`apply_control` and :class:`~.process.FakeTabnineProcess`.

Use :func:`tabnine_usage_async.testing.serve_fake_tabnine` rather than this module directly.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, TypeVar

from aiohttp import web

from ._http import ApiError, json_response, parse_bool, parse_int, parse_range, require
from ._routes62 import CURRENT_ROUTES, Routes62
from ._timefmt import format_timestamp
from .dataset import Dataset, Scope, User
from .faults import FaultConfig, FaultKind, FaultPlanner, ScriptedFault, request_key
from .stats import RequestRecord, ServerStats
from .throttle import Latency, RateLimiter, SlowBody
from .usage import Granularity

__all__ = [
    "VERSIONS",
    "ApiError",
    "FakeServerConfig",
    "FakeTabnineApp",
    "Version",
    "apply_control",
]

Version = Literal["6.2", "5.x"]
#: The server versions the fake can play: a current 6.2 server or an older private installation.
VERSIONS: tuple[Version, ...] = ("6.2", "5.x")

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_PROXY_PAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
# Marks a response that is never written because the connection was dropped.
_ABORTED = 499
_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


@dataclass(frozen=True)
class FakeServerConfig:
    """Behaviour switches of the fake server; everything is off by default.

    ``max_page_size`` caps ``limit``; ``short_pages`` makes pages deterministically shorter than
    the limit (never empty while items remain); ``rate_limit`` is requests per second.

    ``version="6.2"`` (the default) serves the 6.2 routes; ``"5.x"`` plays an older private
    installation, whose 6.2-only routes answer 404 and whose teams and users lack the 6.2
    fields. ``v1_cutover`` is the day a 6.2 server was upgraded: its v1 usage endpoints count
    no activity from that day on (``None``: upgraded after the last day of data, so v1 is
    complete). ``agent_license=False`` drops the Agent feature: agent usage answers 403
    ``FEATURE_NOT_AVAILABLE``.
    """

    token: str
    max_page_size: int = 100
    default_page_size: int = 50
    short_pages: bool = False
    latency: Latency | None = None
    slow_body: SlowBody | None = None
    rate_limit: float | None = None
    faults: FaultConfig | None = None
    scripted: tuple[ScriptedFault, ...] = field(default_factory=tuple)
    version: Version = "6.2"
    v1_cutover: date | None = None
    agent_license: bool = True

    def __post_init__(self) -> None:
        if self.max_page_size < 1 or self.default_page_size < 1:
            raise ValueError("max_page_size and default_page_size must be positive")
        if self.version not in VERSIONS:
            raise ValueError(f"version must be one of {', '.join(VERSIONS)}")


def _user_json(user: User) -> dict[str, Any]:
    deactivated = user.deactivated_at
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "role": user.role,
        "verified": user.verified,
        "deactivatedAt": None if deactivated is None else format_timestamp(deactivated),
        "createdAt": format_timestamp(user.created_at),
        "updatedAt": format_timestamp(user.updated_at),
    }


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return moment


def apply_control(dataset: Dataset, action: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Apply one control action (``clock``, ``correct``, ``add-user``, ``deactivate-user``)."""
    if action == "clock":
        dataset.set_now(_moment(payload["now"]))
        return {"now": format_timestamp(dataset.now)}
    if action == "correct":
        revision = dataset.correct(
            date.fromisoformat(payload["day"]),
            payload.get("userIds"),
            revision=payload.get("revision"),
        )
        return {"revision": revision}
    if action == "add-user":
        user = dataset.add_user(
            _moment(payload["at"]),
            team_ids=payload.get("teamIds") or (),
            role=payload.get("role") or "Member",
        )
        return {"id": user.id}
    if action == "deactivate-user":
        user = dataset.deactivate_user(payload["userId"], _moment(payload["at"]))
        return {"id": user.id}
    raise ValueError(f"unknown control action {action!r}")


class FakeTabnineApp:
    """The application and its state: dataset, stats, fault planner and rate limiter."""

    def __init__(self, dataset: Dataset, config: FakeServerConfig) -> None:
        self.dataset = dataset
        self.config = config
        self.stats = ServerStats()
        self.planner = FaultPlanner(config.faults, list(config.scripted))
        self._limiter = RateLimiter(config.rate_limit) if config.rate_limit else None
        self._latency_seen: dict[str, int] = {}
        self._truncating: set[int] = set()
        self._closing = asyncio.Event()
        self.app = web.Application(middlewares=[self._pipeline])
        self._add_routes()

    def close(self) -> None:
        """Wake every handler that sleeps (latency, timeout faults, slow bodies) so it ends."""
        self._closing.set()

    async def _sleep(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; ``True`` when cut short because the server is closing."""
        if seconds <= 0:
            return self._closing.is_set()
        try:
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            return False
        return True

    def must_truncate(self, request: web.Request) -> bool:
        """Whether a ``truncated`` fault hit this request (for handlers that stream)."""
        return id(request) in self._truncating

    def now(self) -> float:
        """The server clock (the event loop's monotonic time), as used by ``stats``."""
        return asyncio.get_running_loop().time()

    # Routing ------------------------------------------------------------------------------------

    def _add_routes(self) -> None:
        api: list[tuple[str, Callable[[web.Request], web.Response]]] = [
            ("/api/v1/organization", self._organization),
            ("/api/v1/organization/teams", self._teams),
            ("/api/v1/license", self._license),
            ("/api/v1/organization/account-utilizations", self._account_utilizations),
            ("/api/v1/instance/permissions", self._permissions),
            ("/api/v1/organization/usage", self._org_usage),
            ("/api/v1/organization/users", self._org_users),
            # Fixed paths before the {teamId} and {user_id} templates that would swallow them.
            ("/api/v1/team/usage", self._team_usage),
            ("/api/v1/team/account-utilizations", self._team_utilization),
            ("/api/v1/team/{teamId}/users", self._team_users),
            ("/api/v1/team/{teamId}", self._team),
            ("/api/v1/user/usage", self._user_usage),
            ("/api/v1/user/{user_id}", self._user),
        ]
        if self.config.version == "6.2":
            # First: the v1 templates below would swallow ``/api/v1/team/agent-usage``.
            Routes62(self).add_to(self.app.router)
        for path, handler in api:
            self.app.router.add_get(path, self._wrap(handler), allow_head=False)
        self.app.router.add_get("/__fake__/stats", self._stats_view, allow_head=False)
        self.app.router.add_post("/__fake__/reset-stats", self._reset_stats)
        self.app.router.add_post("/__fake__/{action}", self._control)

    @staticmethod
    def _wrap(handler: Callable[[web.Request], web.Response]) -> Handler:
        async def endpoint(request: web.Request) -> web.StreamResponse:
            return handler(request)

        return endpoint

    async def _stats_view(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.stats.to_json(include_log=request.query.get("log") != "0"))

    async def _reset_stats(self, request: web.Request) -> web.StreamResponse:
        self.stats.reset(self.now())
        return json_response({"reset": True})

    async def _control(self, request: web.Request) -> web.StreamResponse:
        """Drive the dataset from another process: clock, corrections and roster changes."""
        try:
            payload = await request.json()
            answer = apply_control(self.dataset, request.match_info["action"], payload)
        except (KeyError, TypeError, ValueError) as error:
            return json_response({"error": str(error)}, status=400)
        return json_response(answer)

    # The pipeline: stats, latency, faults, rate limit, auth, handler, body delivery ---------

    @web.middleware
    async def _pipeline(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/__fake__/"):
            return await handler(request)
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "(unknown)"
        started = self.now()
        self.stats.request_started(route, started)
        status = 0
        try:
            response = await self._serve(request, handler, route)
            status = 0 if response.status == _ABORTED else response.status
            return response
        finally:
            self.stats.request_finished(
                RequestRecord(
                    method=request.method,
                    path=request.path,
                    route=route,
                    query=request.query_string,
                    time=started - self.stats.started,
                    status=status,
                    duration=self.now() - started,
                )
            )

    async def _serve(
        self, request: web.Request, handler: Handler, route: str
    ) -> web.StreamResponse:
        query = list(request.query.items())
        if self.config.latency is not None:
            key = request_key(request.method, request.path, query)
            seen = self._latency_seen.get(key, 0)
            self._latency_seen[key] = seen + 1
            if await self._sleep(self.config.latency.delay_seconds(key, seen)):
                return self._abort(request)
        fault = self.planner.decide(request.method, route, request.path, query)
        if fault is not None:
            self.stats.fault_injected(fault, request.path, self.now())
            early = await self._early_fault(request, fault, route in CURRENT_ROUTES)
            if early is not None:
                return early
        if self._limiter is not None:
            wait = self._limiter.retry_after(self.now())
            if wait is not None:
                self.stats.fault_injected("rate_limit", request.path, self.now())
                return ApiError(
                    429, "Too Many Requests", ["Rate limit exceeded"], {"Retry-After": str(wait)}
                ).response(current=route in CURRENT_ROUTES)
        # Streamed answers (the audit CSV export) are sent by the handler: it cuts them itself.
        if fault == "truncated":
            self._truncating.add(id(request))
        try:
            response = await self._answer(request, handler, route in CURRENT_ROUTES)
        finally:
            self._truncating.discard(id(request))
        if response.prepared:
            return response
        if fault == "truncated":
            return await self._truncate(request, response)
        if self.config.slow_body is not None and isinstance(response, web.Response):
            return await self._trickle(request, response, self.config.slow_body)
        return response

    async def _answer(
        self, request: web.Request, handler: Handler, current: bool
    ) -> web.StreamResponse:
        try:
            self._authenticate(request)
            return await handler(request)
        except ApiError as error:
            return error.response(current=current)
        except web.HTTPNotFound:
            return ApiError(404, "Not Found", [f"Cannot GET {request.path}"]).response()
        except web.HTTPMethodNotAllowed:
            return ApiError(405, "Method Not Allowed").response(current=current)

    def _authenticate(self, request: web.Request) -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token.strip() != self.config.token:
            raise ApiError(401, "Unauthorized", ["Invalid or missing access token"])

    async def _early_fault(
        self, request: web.Request, fault: FaultKind, current: bool
    ) -> web.StreamResponse | None:
        """Answer a fault that replaces the response; ``None`` for those that alter it later."""
        config = self.config.faults or FaultConfig()
        if fault == "429":
            headers = {"Retry-After": str(config.retry_after)}
            error = ApiError(429, "Too Many Requests", ["Rate limit exceeded"], headers)
            return error.response(current=current)
        if fault in ("500", "502", "503"):
            status = int(fault)
            return ApiError(status, _REASONS[status]).response(current=current)
        if fault == "proxy_html":
            return web.Response(text=_PROXY_PAGE, status=502, content_type="text/html")
        if fault == "reset":
            return self._abort(request)
        if fault == "timeout" and await self._sleep(config.timeout_delay):
            return self._abort(request)
        return None

    @staticmethod
    def _abort(request: web.Request) -> web.StreamResponse:
        """Drop the connection without a response."""
        if request.transport is not None:
            request.transport.close()
        # aiohttp finds the transport closed and writes nothing of this response.
        return web.Response(status=_ABORTED)

    async def _truncate(self, request: web.Request, full: web.StreamResponse) -> web.StreamResponse:
        body = full.body if isinstance(full, web.Response) else None
        payload = bytes(body) if isinstance(body, bytes | bytearray) else b"{}"
        stream = web.StreamResponse(status=full.status)
        stream.content_type = full.content_type
        stream.content_length = len(payload) + 512
        await stream.prepare(request)
        await stream.write(payload[: len(payload) // 2])
        return self._abort(request)

    async def _trickle(
        self, request: web.Request, full: web.Response, slow: SlowBody
    ) -> web.StreamResponse:
        body = full.body
        payload = bytes(body) if isinstance(body, bytes | bytearray) else b""
        stream = web.StreamResponse(status=full.status, headers=full.headers)
        stream.content_length = len(payload)
        await stream.prepare(request)
        for start in range(0, len(payload), slow.chunk_bytes):
            if start and await self._sleep(slow.pause_ms / 1000):
                return self._abort(request)
            await stream.write(payload[start : start + slow.chunk_bytes])
        await stream.write_eof()
        return stream

    # Helpers for handlers ------------------------------------------------------------------------

    def check_org(self, request: web.Request, required: bool = True) -> None:
        """401 "Invalid organization" unless ``organizationId`` names the organization."""
        given = request.query.get("organizationId")
        if given is None and not required:
            return
        if given != self.dataset.organization.id:
            raise ApiError(401, "Invalid organization")

    def page(self, request: web.Request, items: Sequence[T], *, required: bool) -> dict[str, Any]:
        """One ``{data, meta}`` page of ``items`` for the request's ``offset`` and ``limit``."""
        if required:
            raw = require(request, "offset", "limit")
            offset_text, limit_text = raw["offset"], raw["limit"]
        else:
            offset_text = request.query.get("offset", "0")
            limit_text = request.query.get("limit", str(self.config.default_page_size))
        offset = parse_int("offset", offset_text, 0)
        limit = min(parse_int("limit", limit_text, 1), self.config.max_page_size)
        size = limit
        if self.config.short_pages and limit >= 2:
            salt = zlib.crc32(f"{request.path}:{offset}".encode())
            size = limit - salt % (limit // 2 + 1)
        page = list(items[offset : offset + size])
        meta: dict[str, Any] = {"count": len(page), "total": len(items)}
        if page and offset + len(page) < len(items):
            meta["next"] = {"limit": limit, "offset": offset + len(page)}
        elif (zlib.crc32(request.path.encode()) + offset // limit) % 2:
            # Alternate between a null and an absent ``next`` so clients meet both.
            meta["next"] = None
        return {"data": page, "meta": meta}

    def usage_request(
        self, request: web.Request, scope: Scope, id_param: str | None
    ) -> tuple[str, datetime, datetime, Granularity, dict[str, Any]]:
        """Validate a usage request: entity id, range, granularity and the body's head."""
        self.check_org(request)
        names = ([id_param] if id_param else []) + ["from", "to", "granularity"]
        params = require(request, *names)
        start, end, granularity = parse_range(params)
        organization_id = self.dataset.organization.id
        entity = params[id_param] if id_param else organization_id
        head: dict[str, Any] = {"organizationId": organization_id}
        if id_param:
            head[id_param] = entity
        head.update({"from": format_timestamp(start), "to": format_timestamp(end)})
        return entity, start, end, granularity, head

    def _usage(self, request: web.Request, scope: Scope, id_param: str | None) -> web.Response:
        entity, start, end, granularity, body = self.usage_request(request, scope, id_param)
        cutover = self.config.v1_cutover if self.config.version == "6.2" else None
        try:
            blocks = self.dataset.usage_blocks(
                scope, entity, start, end, granularity, v1_cutover=cutover
            )
        except KeyError:
            raise ApiError(
                404, f"{scope.capitalize()} not found", [f"{entity} not found"]
            ) from None
        body["usage"] = {"granularity": granularity, "data": blocks}
        return json_response(body)

    def find_team(self, team_id: str) -> Any:
        """The dataset's team; 404 when unknown."""
        try:
            return self.dataset.team(team_id)
        except KeyError:
            raise ApiError(404, "Team not found", [f"team {team_id} not found"]) from None

    # Endpoints --------------------------------------------------------------------------------

    def _organization(self, request: web.Request) -> web.Response:
        org = self.dataset.organization
        return json_response(
            {
                "publicKey": org.public_key,
                "samlEnabled": org.saml_enabled,
                "smtpConfigured": org.smtp_configured,
                "usernamePasswordEnabled": org.username_password_enabled,
                "name": org.name,
                "domains": [org.domain],
                "planType": org.plan_type,
                "id": org.id,
            }
        )

    def _teams(self, request: web.Request) -> web.Response:
        version = self.config.version
        page = self.page(request, self.dataset.teams, required=False)
        page["data"] = [self.dataset.team_json(team.id, version=version) for team in page["data"]]
        return json_response(page)

    def _license(self, request: web.Request) -> web.Response:
        return json_response({"license": self.dataset.license(agent=self.config.agent_license)})

    def _account_utilizations(self, request: web.Request) -> web.Response:
        text = request.query.get("startDate")
        start: tuple[int, int] | None = None
        if text is not None:
            year, dash, month = text.partition("-")
            valid = dash and len(year) == 4 and len(month) == 2
            if not (valid and year.isdigit() and month.isdigit() and 1 <= int(month) <= 12):
                raise ApiError(400, "Validation error", ["startDate must look like YYYY-MM"])
            start = (int(year), int(month))
        return json_response(self.dataset.account_utilizations(start))

    def _permissions(self, request: web.Request) -> web.Response:
        role = require(request, "role")["role"]
        org_id = self.dataset.organization.id
        users = self.dataset.users_with_role(role)
        return json_response([{"username": u.email, "organizationId": org_id} for u in users])

    def _org_usage(self, request: web.Request) -> web.Response:
        return self._usage(request, "organization", None)

    def _team_usage(self, request: web.Request) -> web.Response:
        return self._usage(request, "team", "teamId")

    def _user_usage(self, request: web.Request) -> web.Response:
        return self._usage(request, "user", "userId")

    def _org_users(self, request: web.Request) -> web.Response:
        self.check_org(request, required=False)
        params = require(request, "offset", "limit", "teamMember", "active")
        team_member = parse_bool("teamMember", params["teamMember"])
        active = parse_bool("active", params["active"])
        ids = self.dataset.user_ids(team_member=team_member, active=active)
        # Page the ids, then write only that page's users: a listing stays linear in its size.
        page = self.page(request, ids, required=True)
        page["data"] = [self._org_user_json(self.dataset.user(uid)) for uid in page["data"]]
        return json_response(page)

    def _org_user_json(self, user: User) -> dict[str, Any]:
        body = _user_json(user)
        if self.config.version == "6.2" and user.team_ids:
            body["team"] = self.dataset.team_json(user.team_ids[0])
        return body

    def _team_users(self, request: web.Request) -> web.Response:
        team_id = request.match_info["teamId"]
        page = self.page(request, self.find_team(team_id).member_ids, required=True)
        page["data"] = [_user_json(self.dataset.user(uid)) for uid in page["data"]]
        return json_response(page)

    def _team_utilization(self, request: web.Request) -> web.Response:
        team_id = require(request, "teamId")["teamId"]
        self.find_team(team_id)
        return json_response(self.dataset.team_utilization(team_id))

    def _team(self, request: web.Request) -> web.Response:
        team = self.find_team(request.match_info["teamId"])
        return json_response({"id": team.id, "name": team.name})

    def _user(self, request: web.Request) -> web.Response:
        user_id = request.match_info["user_id"]
        try:
            user = self.dataset.user(user_id)
        except KeyError:
            raise ApiError(404, "User not found", [f"user {user_id} not found"]) from None
        teams: dict[str, str] = {}
        if user.team_ids:
            first = self.dataset.team(user.team_ids[0])
            teams = {"team_id": first.id, "team_name": first.name}
        return json_response(
            {
                "user": {
                    "organization_id": self.dataset.organization.id,
                    "user_id": user.id,
                    "email": user.email,
                    "role": user.role,
                    "createdAt": format_timestamp(user.created_at),
                    "updatedAt": format_timestamp(user.updated_at),
                },
                "teams": teams,
            }
        )
