"""The routes a Tabnine 6.2 server adds: v2 usage, agent usage, audit logs, invitations, reads.

All of them answer errors with the 6.2 envelope (``_http.ApiError.response(current=True)``).
Decisions where the sources are silent:

- v2 usage covers every day of the dataset, also days before a ``v1_cutover`` (the server is
  assumed to have migrated its history); no maximum range; an unknown team or user is 404.
- Agent usage: without ``organizationId`` 401 "Invalid organization" (as reported from the
  live API); ``startDate``/``endDate`` instead of ``from``/``to`` is a 500 (as reported);
  ``granularity`` is required as for v2. Without the Agent licence feature: 403
  ``FEATURE_NOT_AVAILABLE``, checked first.
- Audit logs: ``limit`` 1..1000 (default 50), no server cap below that; ``total`` is exact up to
  1000 and rounded to the nearest thousand above (the description calls it approximate);
  ``format=csv`` streams every matching event in the requested order and ignores ``limit`` and
  ``offset``; ``actorEmail`` matches case-insensitively.
- Invitations: ``offset`` and ``limit`` are required (the description says so); ``limit`` is
  capped like other lists; ``meta.next`` is the next offset or ``null`` on the last page; an
  unknown ``teamId`` is 404.
- ``GET /api/user/v1/{userId}``: ``allowedTeams`` are the user's teams; ``teams`` names the
  first one (``null`` values for users in no team). ``by-email`` omits ``team`` for users in no
  team.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ._http import ApiError, json_response, parse_int, parse_moments, require
from ._timefmt import format_timestamp

if TYPE_CHECKING:
    from .dataset import Scope, User
    from .fake_server import FakeTabnineApp

__all__ = ["AUDIT_CSV_COLUMNS", "CURRENT_ROUTES", "Routes62"]

#: Route templates that exist only on 6.2 servers and answer the 6.2 error envelope.
CURRENT_ROUTES = frozenset(
    {
        "/api/v2/organization/usage",
        "/api/v2/team/usage",
        "/api/v2/user/usage",
        "/api/v1/organization/agent-usage",
        "/api/v1/team/agent-usage",
        "/api/v1/user/agent-usage",
        "/api/v1/organization/audit-logs",
        "/api/invitation/v1",
        "/api/user/v1/by-email/{email}",
        "/api/user/v1/{userId}/allowed-teams",
        "/api/user/v1/{userId}",
        "/api/team/v1/{teamid}",
    }
)

#: Columns of the audit-log CSV export, in order.
AUDIT_CSV_COLUMNS = (
    "id",
    "timestamp",
    "eventType",
    "actorId",
    "actorType",
    "actorEmail",
    "actorDisplayName",
    "resourceType",
    "resourceId",
    "resourceName",
    "metadata",
    "ipAddress",
    "userAgent",
)
_CSV_CHUNK_ROWS = 500
_AUDIT_FILTERS = (
    ("eventType", ("eventType",)),
    ("actorId", ("actor", "id")),
    ("resourceType", ("resource", "type")),
    ("resourceId", ("resource", "id")),
)
#: Query parameters that choose which audit events a listing pages through.
_AUDIT_SELECTORS = ("from", "to", "sort", "actorEmail", *(name for name, _ in _AUDIT_FILTERS))
_NO_AGENT = "The Agent feature is not included in your account's license."

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _dig(event: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = event
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _csv_row(event: dict[str, Any]) -> list[str]:
    actor = event.get("actor") or {}
    resource = event.get("resource") or {}
    request = event.get("request") or {}
    return [
        event["id"],
        event["timestamp"],
        event["eventType"],
        actor.get("id") or "",
        actor.get("type") or "",
        actor.get("email") or "",
        actor.get("displayName") or "",
        resource.get("type") or "",
        resource.get("id") or "",
        resource.get("name") or "",
        json.dumps(event.get("metadata") or {}, separators=(",", ":"), sort_keys=True),
        request.get("ipAddress") or "",
        request.get("userAgent") or "",
    ]


def _approximate(total: int) -> int:
    return total if total <= 1000 else round(total, -3)


class Routes62:
    """Handlers of the 6.2-only routes, serving the app's dataset under its config."""

    def __init__(self, app: FakeTabnineApp) -> None:
        self._app = app
        # The last audit selection: (the dataset's event list, the selecting parameters, events).
        self._audit_cache: tuple[object, tuple[str | None, ...], list[dict[str, Any]]] | None = None

    @property
    def _data(self) -> Any:
        return self._app.dataset

    def add_to(self, router: web.UrlDispatcher) -> None:
        """Register every route; call before templates such as ``/api/v1/team/{teamId}``."""

        def sync(handler: Callable[[web.Request], web.Response]) -> Handler:
            async def endpoint(request: web.Request) -> web.StreamResponse:
                return handler(request)

            return endpoint

        routes: list[tuple[str, Handler]] = []
        scopes: tuple[tuple[Scope, str | None], ...] = (
            ("organization", None),
            ("team", "teamId"),
            ("user", "userId"),
        )
        for scope, id_param in scopes:
            routes.append((f"/api/v2/{scope}/usage", sync(self._v2_handler(scope, id_param))))
            routes.append(
                (f"/api/v1/{scope}/agent-usage", sync(self._agent_handler(scope, id_param)))
            )
        routes += [
            ("/api/v1/organization/audit-logs", self._audit_logs),
            ("/api/invitation/v1", sync(self._invitations)),
            ("/api/user/v1/by-email/{email}", sync(self._user_by_email)),
            ("/api/user/v1/{userId}/allowed-teams", sync(self._allowed_teams)),
            ("/api/user/v1/{userId}", sync(self._user)),
            ("/api/team/v1/{teamid}", sync(self._team)),
        ]
        for path, handler in routes:
            router.add_get(path, handler, allow_head=False)

    # Usage ----------------------------------------------------------------------------------

    def _v2_handler(
        self, scope: Scope, id_param: str | None
    ) -> Callable[[web.Request], web.Response]:
        def handler(request: web.Request) -> web.Response:
            entity, start, end, granularity, body = self._app.usage_request(
                request, scope, id_param
            )
            try:
                buckets = self._data.usage_v2_buckets(scope, entity, start, end, granularity)
            except KeyError:
                raise ApiError(404, f"{scope.capitalize()} not found", [entity]) from None
            body["usage"] = {"granularity": granularity, "data": buckets}
            return json_response(body)

        return handler

    def _agent_handler(
        self, scope: Scope, id_param: str | None
    ) -> Callable[[web.Request], web.Response]:
        def handler(request: web.Request) -> web.Response:
            if not self._app.config.agent_license:
                raise ApiError(403, _NO_AGENT, code="FEATURE_NOT_AVAILABLE")
            self._app.check_org(request)
            query = request.query
            if ("startDate" in query or "endDate" in query) and not (
                "from" in query and "to" in query
            ):
                raise ApiError(
                    500, "Internal server error", ["Cannot read properties of undefined"]
                )
            entity, start, end, granularity, body = self._app.usage_request(
                request, scope, id_param
            )
            try:
                points = self._data.agent_usage_points(scope, entity, start, end, granularity)
            except KeyError:
                raise ApiError(404, f"{scope.capitalize()} not found", [entity]) from None
            body["usage"] = {"granularity": granularity, "data": points}
            return json_response(body)

        return handler

    # Audit logs -----------------------------------------------------------------------------

    def _audit_selection(self, request: web.Request) -> list[dict[str, Any]]:
        # The pages of one listing select the same events: filtering the whole log for each
        # page would make paging through it quadratic, so the last selection is kept.
        events: list[dict[str, Any]] = self._data.audit_events()
        key = tuple(request.query.get(name) for name in _AUDIT_SELECTORS)
        cached = self._audit_cache
        if cached is not None and cached[0] is events and cached[1] == key:
            return cached[2]
        selection = self._select_audit(request, events)
        self._audit_cache = (events, key, selection)
        return selection

    def _select_audit(
        self, request: web.Request, events: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        query = request.query
        named = [name for name in ("from", "to") if name in query]
        moments = parse_moments(query, named)
        if moments:
            low = moments.get("from")
            high = moments.get("to")
            low_text = None if low is None else format_timestamp(low)
            high_text = None if high is None else format_timestamp(high)
            events = [
                e
                for e in events
                if (low_text is None or e["timestamp"] >= low_text)
                and (high_text is None or e["timestamp"] < high_text)
            ]
        for name, path in _AUDIT_FILTERS:
            wanted = query.get(name)
            if wanted:
                events = [e for e in events if _dig(e, path) == wanted]
        email = query.get("actorEmail")
        if email:
            folded = email.casefold()
            events = [e for e in events if (_dig(e, ("actor", "email")) or "").casefold() == folded]
        sort = query.get("sort", "desc")
        if sort not in ("asc", "desc"):
            raise ApiError(400, "Validation error", ["sort must be asc or desc"])
        return events if sort == "asc" else events[::-1]

    async def _audit_logs(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        output = query.get("format", "json")
        if output not in ("json", "csv"):
            raise ApiError(400, "Validation error", ["format must be json or csv"])
        limit = parse_int("limit", query.get("limit", "50"), 1, 1000)
        offset = parse_int("offset", query.get("offset", "0"), 0)
        events = self._audit_selection(request)
        if output == "json":
            page = events[offset : offset + limit]
            return json_response(
                {
                    "items": page,
                    "total": _approximate(len(events)),
                    "limit": limit,
                    "offset": offset,
                }
            )
        stream = web.StreamResponse(
            headers={"Content-Disposition": 'attachment; filename="audit-logs.csv"'}
        )
        stream.content_type = "text/csv"
        stream.charset = "utf-8"
        await stream.prepare(request)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(AUDIT_CSV_COLUMNS)
        cut = len(events) // 2 if self._app.must_truncate(request) else None
        for start in range(0, len(events), _CSV_CHUNK_ROWS):
            if cut is not None and start >= cut:
                break
            writer.writerows(_csv_row(e) for e in events[start : start + _CSV_CHUNK_ROWS])
            await stream.write(buffer.getvalue().encode())
            buffer.seek(0)
            buffer.truncate()
        if cut is not None:
            # Drop the connection mid-body: the chunked stream never ends properly.
            if request.transport is not None:
                request.transport.close()
            return stream
        if buffer.tell():
            await stream.write(buffer.getvalue().encode())
        await stream.write_eof()
        return stream

    # Invitations and reads ------------------------------------------------------------------

    def _invitations(self, request: web.Request) -> web.Response:
        params = require(request, "offset", "limit")
        offset = parse_int("offset", params["offset"], 0)
        limit = min(parse_int("limit", params["limit"], 1), self._app.config.max_page_size)
        team_id = request.query.get("teamId")
        if team_id is not None:
            self._app.find_team(team_id)
        rows = self._data.invitations(team_id)
        page = rows[offset : offset + limit]
        following = offset + len(page) if page and offset + len(page) < len(rows) else None
        return json_response(
            {"data": page, "meta": {"count": len(page), "total": len(rows), "next": following}}
        )

    def _find_user(self, user_id: str) -> User:
        try:
            user: User = self._data.user(user_id)
        except KeyError:
            raise ApiError(404, "User not found", [f"user {user_id} not found"]) from None
        return user

    def _teams_of(self, user: User) -> list[dict[str, Any]]:
        return [self._data.team_json(tid) for tid in user.team_ids]

    def _user(self, request: web.Request) -> web.Response:
        user = self._find_user(request.match_info["userId"])
        first = self._data.team(user.team_ids[0]) if user.team_ids else None
        return json_response(
            {
                "user": {
                    "user_id": user.id,
                    "email": user.email,
                    "role": user.role,
                    "active": user.active,
                    "allowedTeams": self._teams_of(user),
                },
                "teams": {
                    "team_id": None if first is None else first.id,
                    "team_name": None if first is None else first.name,
                },
            }
        )

    def _user_by_email(self, request: web.Request) -> web.Response:
        email = request.match_info["email"]
        try:
            user: User = self._data.user_by_email(email)
        except KeyError:
            raise ApiError(404, "User not found", [f"no user with email {email}"]) from None
        body: dict[str, Any] = {
            "id": user.id,
            "username": user.username,
            "email": user.email,
            "role": user.role,
            "verified": user.verified,
            "active": user.active,
        }
        teams = self._teams_of(user)
        if teams:
            body["team"] = teams[0]
        body["allowedTeams"] = teams
        return json_response(body)

    def _allowed_teams(self, request: web.Request) -> web.Response:
        user = self._find_user(request.match_info["userId"])
        return json_response(self._teams_of(user))

    def _team(self, request: web.Request) -> web.Response:
        team = self._app.find_team(request.match_info["teamid"])
        return json_response(self._data.team_json(team.id))
