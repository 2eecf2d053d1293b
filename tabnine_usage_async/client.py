"""``TabnineClient``: one async method per Tabnine API endpoint it reads.

Endpoint methods only validate arguments, build parameters, call the transport and decode. Naming:
``get_*`` returns one object (or a list the API returns whole), ``iter_*`` is an async generator
over a paginated list.

The three v1 usage methods are legacy: Tabnine 6.2 and later answer them only with activity from
before the upgrade. Each warns once per process (``DeprecationWarning``) when called from outside
this package; the package's own callers (the usage walk and ``backfill``, which read v1 on purpose)
do not trigger it.
"""

from __future__ import annotations

import asyncio
import math
import os
import ssl
import sys
import tempfile
import warnings
from collections.abc import AsyncIterator, Mapping
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TypeVar

import aiohttp

from ._convert import decode
from ._network import resolve_proxy, resolve_tls
from ._transport import DEFAULT_MAX_RESPONSE_BYTES, ClientStats, Transport
from ._unparsed import Unparsed
from ._wire import (
    MAX_AUDIT_PAGE,
    RetryPolicy,
    audit_log_params,
    encode_path_segment,
    format_month,
    parse_granularity,
    validate_base_url,
    validate_token,
)
from .errors import (
    BadRequestError,
    ConfigurationError,
    DecodeError,
    InvalidParameterError,
    NotFoundError,
    UnprocessableEntityError,
)
from .models import (
    AccountUtilization,
    AgentUsageReport,
    AuditEvent,
    Granularity,
    Invitation,
    License,
    ManagedUser,
    Organization,
    PermissionUser,
    Team,
    TeamInfo,
    TeamUtilization,
    UsageReport,
    UsageReportV2,
    User,
    UserInfo,
    UserLookup,
)
from .pagination import paginate, paginate_audit_logs, paginate_invitations
from .windows import DateLike, format_datetime, resolve_range

__all__ = ["DEFAULT_BASE_URL", "Destination", "TabnineClient"]

T = TypeVar("T")

#: Tabnine Enterprise SaaS. Private installations use their own host with the same paths.
DEFAULT_BASE_URL = "https://console.tabnine.com"


def _positive_int(name: str, value: object, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(f"{name} must be an integer >= {minimum}, not {value!r}")
    return value


def _positive_number(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigurationError(
            f"{name} must be a positive number of seconds or per second, not {value!r}"
        )
    return float(value)


def _flag(name: str, value: object) -> bool:
    # A string such as "false" would be truthy: refuse anything but a real bool.
    if not isinstance(value, bool):
        raise ConfigurationError(f"{name} must be True or False, not {value!r}")
    return value


def _id(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidParameterError(f"{name} must be a non-empty string, not {value!r}")
    return value


# A walk asks for the same few windows for every user: their wire form is computed once.
_WIRE_RANGES: dict[tuple[object, object], tuple[str, str]] = {}
_WIRE_RANGES_KEPT = 1024


def _wire_range(start: DateLike, end: DateLike) -> tuple[str, str]:
    """``resolve_range`` then ``format_datetime`` of both bounds, remembered for valid ranges."""
    key = (start, end)
    try:
        return _WIRE_RANGES[key]
    except KeyError:
        pass
    except TypeError:  # unhashable: resolve_range says what is wrong with it
        key = None  # type: ignore[assignment]
    start_utc, end_utc = resolve_range(start, end)
    wire = (format_datetime(start_utc), format_datetime(end_utc))
    if key is not None and type(start) in _CACHED_BOUNDS and type(end) in _CACHED_BOUNDS:
        if len(_WIRE_RANGES) >= _WIRE_RANGES_KEPT:
            _WIRE_RANGES.clear()
        _WIRE_RANGES[key] = wire
    return wire


# Only exact types whose equal values always mean the same instant: an aware datetime equals
# another of the same instant in any zone, which formats the same in UTC; a naive one never
# equals an aware one, and fails before it could be stored.
_CACHED_BOUNDS = frozenset({date, datetime, str})


_PACKAGE = __name__.partition(".")[0]
# v1 usage methods that already warned in this process.
_LEGACY_WARNED: set[str] = set()


def _warn_legacy(method: str, replacement: str) -> None:
    """Warn once per process that ``method`` reads frozen v1 data; silent for our own callers."""
    if method in _LEGACY_WARNED:
        return
    # Frame 0 is this function, 1 the public method, 2 whoever called (awaited) it.
    caller = sys._getframe(2).f_globals.get("__name__", "")
    if caller == _PACKAGE or caller.startswith(_PACKAGE + "."):
        return
    _LEGACY_WARNED.add(method)
    warnings.warn(
        f"{method}() reads a v1 usage endpoint, which Tabnine 6.2 and later no longer update "
        f"(it returns only activity from before the upgrade); use {replacement}() on those "
        "servers (see supports_v2_usage()). It stays for Tabnine 5.x-6.1 installations.",
        DeprecationWarning,
        stacklevel=3,
    )


def _temp_beside(target: Path) -> tuple[int, str]:
    """Open a temporary file in ``target``'s folder, so that ``os.replace`` is atomic."""
    if target.is_dir():
        raise InvalidParameterError(f"destination {str(target)!r} is a directory")
    if not target.parent.is_dir():
        raise InvalidParameterError(f"the folder of destination {str(target)!r} does not exist")
    return tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")


def _discard(temp: str) -> None:
    Path(temp).unlink(missing_ok=True)


#: Where an export is written, or a binary file object to write it to.
Destination = str | os.PathLike[str] | IO[bytes]


class TabnineClient:
    """Async client for Tabnine's Usage Metrics API.

    Use it as an async context manager; it owns one aiohttp session (or borrows ``session``, which
    it then never closes)::

        async with TabnineClient() as client:            # token from TABNINE_API_TOKEN
            org = await client.get_organization()
            async for team in client.iter_teams():
                report = await client.get_team_usage(team.id, "2026-01-01", "2026-02-01", "daily")

    Args:
        token: personal access token; default ``TABNINE_API_TOKEN``. Never logged or shown.
        base_url: ``https://host`` of the console; default ``TABNINE_BASE_URL``, else
            ``https://console.tabnine.com``.
        max_concurrency: requests in flight at once (also the connection pool size).
        rate_limit: requests per second across the client; ``None`` for unlimited.
        timeout: seconds one attempt may take, connect to last byte.
        max_retries: retries after the first attempt for connection errors, timeouts, 408, 429
            and 5xx.
        page_size: ``limit`` sent on paginated calls.
        session: an ``aiohttp.ClientSession`` to borrow instead of owning one.
        allow_insecure_http: permit plain ``http://`` to a host that is not loopback.
        organization_id: skip the lookup of the organization id (it is otherwise fetched once with
            ``get_organization()`` on first need and cached).
        retry_policy: backoff details beyond ``max_retries`` (see ``RetryPolicy``).
        adaptive_rate_limit: after three 429s within a second, throttle to the rate the server
            was measured to accept (then probe upward) instead of only pausing for
            ``Retry-After`` and bursting again. ``False`` keeps only the pause: for callers who
            pace requests themselves.
        max_response_bytes: the largest body accepted, counted after decompression (default
            64 MiB, far above any real answer); a larger, endless or exploding body fails with
            ``ResponseTooLargeError`` instead of filling the memory.
        proxy: ``http://[user:password@]host:port`` of a forward proxy (https goes through it
            with ``CONNECT``); the credentials are never logged or shown.
        trust_env: read ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` / ``NO_PROXY`` and
            ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` when ``proxy`` and ``ca_bundle`` are not
            given, as curl, requests and httpx do (``~/.netrc`` is never read).
        ca_bundle: a PEM file, or a folder of them, of the certificate authorities to trust
            instead of the system's: for private installations with an internal CA.
        client_cert: a PEM client certificate (it may hold the key too) for mutual TLS.
        client_key: the client certificate's private key, when it is in a file of its own.
        ssl_context: a complete ``ssl.SSLContext``; excludes the three file options above.
    """

    def __init__(
        self,
        token: str | None = None,
        base_url: str | None = None,
        max_concurrency: int = 16,
        rate_limit: float | None = None,
        timeout: float = 30.0,
        max_retries: int = 5,
        page_size: int = 100,
        session: aiohttp.ClientSession | None = None,
        *,
        allow_insecure_http: bool = False,
        organization_id: str | None = None,
        retry_policy: RetryPolicy | None = None,
        adaptive_rate_limit: bool = True,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        proxy: str | None = None,
        trust_env: bool = True,
        ca_bundle: str | os.PathLike[str] | None = None,
        client_cert: str | os.PathLike[str] | None = None,
        client_key: str | os.PathLike[str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        token = validate_token(token if token is not None else os.environ.get("TABNINE_API_TOKEN"))
        url = base_url if base_url is not None else os.environ.get("TABNINE_BASE_URL")
        self._base_url = validate_base_url(
            url or DEFAULT_BASE_URL, allow_insecure_http=allow_insecure_http
        )
        self._max_concurrency = _positive_int("max_concurrency", max_concurrency)
        if rate_limit is not None:
            rate_limit = _positive_number("rate_limit", rate_limit)
        timeout = _positive_number("timeout", timeout)
        max_retries = _positive_int("max_retries", max_retries, minimum=0)
        self._page_size = _positive_int("page_size", page_size)
        if organization_id is not None:
            _id("organization_id", organization_id)
        policy = retry_policy or RetryPolicy()
        trust_env = _flag("trust_env", trust_env)
        tls = resolve_tls(
            self._base_url,
            ssl_context=ssl_context,
            ca_bundle=ca_bundle,
            client_cert=client_cert,
            client_key=client_key,
            trust_env=trust_env,
            environ=os.environ,
        )
        via = resolve_proxy(self._base_url, proxy, trust_env=trust_env, environ=os.environ)
        self._transport = Transport(
            base_url=self._base_url,
            token=token,
            timeout=timeout,
            max_concurrency=self._max_concurrency,
            rate_limit=rate_limit,
            retry_policy=RetryPolicy(
                max_retries=max_retries,
                base_delay=policy.base_delay,
                max_delay=policy.max_delay,
                max_retry_after=policy.max_retry_after,
            ),
            session=session,
            adaptive_rate_limit=_flag("adaptive_rate_limit", adaptive_rate_limit),
            max_response_bytes=_positive_int("max_response_bytes", max_response_bytes),
            ssl_context=tls,
            proxy=via,
        )
        self._organization_id = organization_id
        self._organization_lock = asyncio.Lock()
        self._v2_usage: bool | None = None
        self._v2_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"<TabnineClient base_url={self._base_url!r}>"

    async def __aenter__(self) -> TabnineClient:
        await self._transport.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client (its own session; a borrowed one stays open). Idempotent."""
        await self._transport.close()

    # -- properties --------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The normalised ``scheme://host[:port]`` requests go to."""
        return self._base_url

    @property
    def max_concurrency(self) -> int:
        """Requests in flight at once."""
        return self._max_concurrency

    @property
    def organization_id(self) -> str | None:
        """The organization id given or already looked up; ``None`` until the first lookup."""
        return self._organization_id

    @property
    def page_size(self) -> int:
        """``limit`` sent on paginated calls."""
        return self._page_size

    @property
    def stats(self) -> ClientStats:
        """Live counters: requests, retries, 429s, failures."""
        return self._transport.stats

    @property
    def max_in_flight(self) -> int:
        """The most requests this client ever had in flight at once."""
        return self._transport.limits.max_in_flight

    # -- plumbing ----------------------------------------------------------------------------

    async def _get(
        self, path: str, params: Mapping[str, str] | None = None, *, endpoint: str
    ) -> Any:
        return await self._transport.get_json(path, params or {}, endpoint=endpoint)

    async def _get_model(
        self,
        cls: type[T] | Any,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        endpoint: str,
    ) -> T:
        body = await self._get(path, params, endpoint=endpoint)
        result: T = decode(body, cls, endpoint=endpoint)
        return result

    async def _iter_pages(
        self, cls: type[T], path: str, params: Mapping[str, str], *, endpoint: str
    ) -> AsyncIterator[T]:
        async def fetch(offset: int, limit: int) -> Any:
            page_params = {**params, "offset": str(offset), "limit": str(limit)}
            return await self._get(path, page_params, endpoint=endpoint)

        async for items in paginate(fetch, limit=self._page_size, endpoint=endpoint):
            decoded: list[T] = decode(items, list[cls], endpoint=endpoint, root="$.data")  # type: ignore[valid-type]
            for item in decoded:
                yield item

    async def resolve_organization_id(self, organization_id: str | None = None) -> str:
        """Return ``organization_id`` if given, else the cached or freshly fetched one."""
        if organization_id is not None:
            return _id("organization_id", organization_id)
        if self._organization_id is None:
            async with self._organization_lock:
                if self._organization_id is None:
                    await self.get_organization()
        assert self._organization_id is not None
        return self._organization_id

    async def _usage(
        self,
        path: str,
        start: DateLike,
        end: DateLike,
        granularity: Granularity | str,
        organization_id: str | None,
        ids: Mapping[str, str],
        cls: type[T] | Any = UsageReport,
    ) -> T:
        params = await self._usage_params(start, end, granularity, organization_id, ids)
        # The transport directly, not through ``_get_model``: this runs for every unit of a walk.
        body = await self._transport.get_json(path, params, endpoint=path)
        result: T = decode(body, cls, endpoint=path)
        return result

    async def _usage_unparsed(
        self,
        path: str,
        start: DateLike,
        end: DateLike,
        granularity: Granularity | str,
        organization_id: str | None,
        ids: Mapping[str, str],
        cls: type[T],
    ) -> Unparsed[T]:
        """Like ``_usage``, but the body is parsed and structured later, by ``Unparsed.decode``.

        For the engine: a worker that has its answer sends the next request at once, and the
        CPU work of reading the answer happens while that request is on the wire.
        """
        checked = {key: _id(key, value) for key, value in ids.items()}
        params = await self._usage_params(start, end, granularity, organization_id, checked)
        return Unparsed(await self._transport.get_body(path, params), cls, path)

    async def _usage_params(
        self,
        start: DateLike,
        end: DateLike,
        granularity: Granularity | str,
        organization_id: str | None,
        ids: Mapping[str, str],
    ) -> dict[str, str]:
        # Validate everything before any request, including the organization lookup.
        wire_start, wire_end = _wire_range(start, end)
        level = parse_granularity(granularity)
        if organization_id is not None:
            org = _id("organization_id", organization_id)
        else:
            org = self._organization_id or await self.resolve_organization_id()
        return {
            "organizationId": org,
            **ids,
            "from": wire_start,
            "to": wire_end,
            "granularity": level.value,
        }

    # -- organization ------------------------------------------------------------------------

    async def get_organization(self) -> Organization:
        """The token's organization; also caches its id for the usage methods.

        >>> org = await client.get_organization()  # doctest: +SKIP
        """
        org: Organization = await self._get_model(
            Organization, "/api/v1/organization", endpoint="/api/v1/organization"
        )
        self._organization_id = org.id
        return org

    async def iter_teams(self) -> AsyncIterator[Team]:
        """Every team of the organization, page by page.

        >>> names = [team.name async for team in client.iter_teams()]  # doctest: +SKIP
        """
        path = "/api/v1/organization/teams"
        async for team in self._iter_pages(Team, path, {}, endpoint=path):
            yield team

    async def get_license(self) -> License:
        """The installation's license (seats, expiry, features)."""
        path = "/api/v1/license"
        body = await self._get(path, endpoint=path)
        if not isinstance(body, dict) or "license" not in body:
            raise DecodeError("required field missing", endpoint=path, field="$.license")
        return decode(body["license"], License, endpoint=path, root="$.license")

    async def get_account_utilizations(
        self, start: date | str | None = None
    ) -> list[AccountUtilization]:
        """Seat counts per month from ``start`` (a date or ``"YYYY-MM"``); default: 12 months.

        >>> months = await client.get_account_utilizations("2026-01")  # doctest: +SKIP
        """
        path = "/api/v1/organization/account-utilizations"
        params = {} if start is None else {"startDate": format_month(start)}
        return await self._get_model(list[AccountUtilization], path, params, endpoint=path)

    async def get_permissions(self, role: str = "Admin") -> list[PermissionUser]:
        """Users holding ``role`` (``"Admin"`` lists the account admins)."""
        path = "/api/v1/instance/permissions"
        params = {"role": _id("role", role)}
        return await self._get_model(list[PermissionUser], path, params, endpoint=path)

    async def get_organization_usage(
        self,
        start: DateLike,
        end: DateLike,
        granularity: Granularity | str = Granularity.ALL,
        *,
        organization_id: str | None = None,
    ) -> UsageReport:
        """Organization-wide usage over ``[start, end)``.

        Legacy: Tabnine 6.2 and later answer only with activity from before the upgrade; use
        ``get_organization_usage_v2`` there. Warns once per process.

        Example: ``await client.get_organization_usage("2026-01-01", "2026-02-01", "weekly")``
        """
        _warn_legacy("get_organization_usage", "get_organization_usage_v2")
        return await self._usage(
            "/api/v1/organization/usage", start, end, granularity, organization_id, {}
        )

    async def iter_unassigned_users(
        self, active: bool = True, *, organization_id: str | None = None
    ) -> AsyncIterator[User]:
        """Users in no team: registered ones (``active=True``) or deactivated ones.

        The live API misreports missing parameters here, so every one of them is always sent.
        """
        if not isinstance(active, bool):
            raise InvalidParameterError(f"active must be True or False, not {active!r}")
        org = await self.resolve_organization_id(organization_id)
        path = "/api/v1/organization/users"
        params = {
            "organizationId": org,
            "teamMember": "false",
            "active": "true" if active else "false",
        }
        async for user in self._iter_pages(User, path, params, endpoint=path):
            yield user

    # -- teams -------------------------------------------------------------------------------

    async def iter_team_users(self, team_id: str) -> AsyncIterator[User]:
        """Every member of a team, page by page."""
        path = f"/api/v1/team/{encode_path_segment(team_id, name='team_id')}/users"
        async for user in self._iter_pages(User, path, {}, endpoint="/api/v1/team/{teamId}/users"):
            yield user

    async def get_team_utilization(self, team_id: str) -> TeamUtilization:
        """A team's registered, deactivated and invited seat counts."""
        path = "/api/v1/team/account-utilizations"
        params = {"teamId": _id("team_id", team_id)}
        return await self._get_model(TeamUtilization, path, params, endpoint=path)

    async def get_team(self, team_id: str) -> TeamInfo:
        """A team's id and name."""
        path = f"/api/v1/team/{encode_path_segment(team_id, name='team_id')}"
        return await self._get_model(TeamInfo, path, endpoint="/api/v1/team/{teamId}")

    async def get_team_usage(
        self,
        team_id: str,
        start: DateLike,
        end: DateLike,
        granularity: Granularity | str = Granularity.ALL,
        *,
        organization_id: str | None = None,
    ) -> UsageReport:
        """A team's usage over ``[start, end)``.

        Legacy: Tabnine 6.2 and later answer only with activity from before the upgrade; use
        ``get_team_usage_v2`` there. Warns once per process.
        """
        _warn_legacy("get_team_usage", "get_team_usage_v2")
        ids = {"teamId": _id("team_id", team_id)}
        return await self._usage(
            "/api/v1/team/usage", start, end, granularity, organization_id, ids
        )

    # -- users -------------------------------------------------------------------------------

    async def get_user(self, user_id: str) -> UserInfo:
        """A user's details and teams."""
        path = f"/api/v1/user/{encode_path_segment(user_id, name='user_id')}"
        return await self._get_model(UserInfo, path, endpoint="/api/v1/user/{user_id}")

    async def get_user_usage(
        self,
        user_id: str,
        start: DateLike,
        end: DateLike,
        granularity: Granularity | str = Granularity.ALL,
        *,
        organization_id: str | None = None,
    ) -> UsageReport:
        """One user's usage over ``[start, end)``.

        Legacy: Tabnine 6.2 and later answer only with activity from before the upgrade; use
        ``get_user_usage_v2`` there. Warns once per process.

        Example: ``await client.get_user_usage(user.id, date(2026, 1, 1), date(2026, 2, 1))``
        """
        _warn_legacy("get_user_usage", "get_user_usage_v2")
        ids = {"userId": _id("user_id", user_id)}
        return await self._usage(
            "/api/v1/user/usage", start, end, granularity, organization_id, ids
        )

    # -- Tabnine 6.2: v2 usage ---------------------------------------------------------------

    async def supports_v2_usage(self) -> bool:
        """Whether the server has the v2 usage endpoints (Tabnine 6.2 and later); cached.

        Asks ``/api/v2/organization/usage`` for one day: a 404 means an older installation
        (5.x to 6.1), any answer (or a 400/422 about the parameters) means v2 is there. Other
        errors (401, 403, 5xx after retries) are raised: they say nothing about the version.
        """
        if self._v2_usage is None:
            async with self._v2_lock:
                if self._v2_usage is None:
                    self._v2_usage = await self._probe_v2_usage()
        return self._v2_usage

    async def _probe_v2_usage(self) -> bool:
        today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        try:
            await self._get(
                "/api/v2/organization/usage",
                {
                    "organizationId": await self.resolve_organization_id(),
                    "from": format_datetime(today - timedelta(days=1)),
                    "to": format_datetime(today),
                    "granularity": Granularity.ALL.value,
                },
                endpoint="/api/v2/organization/usage",
            )
        except NotFoundError:
            return False
        except (BadRequestError, UnprocessableEntityError):
            return True
        return True

    async def get_organization_usage_v2(
        self,
        start: DateLike,
        end: DateLike,
        granularity: Granularity | str = Granularity.ALL,
        *,
        organization_id: str | None = None,
    ) -> UsageReportV2:
        """Organization-wide v2 usage over ``[start, end)`` (Tabnine 6.2 and later).

        Per-model rows (``chat.models``, ``agent.models``) come only when the server aggregates
        by model, typically with ``granularity="all"``.

        Example: ``await client.get_organization_usage_v2("2026-01-01", "2026-02-01", "all")``
        """
        path = "/api/v2/organization/usage"
        return await self._usage(path, start, end, granularity, organization_id, {}, UsageReportV2)

    async def get_team_usage_v2(
        self,
        team_id: str,
        start: DateLike,
        end: DateLike,
        granularity: Granularity | str = Granularity.ALL,
        *,
        organization_id: str | None = None,
    ) -> UsageReportV2:
        """A team's v2 usage over ``[start, end)`` (Tabnine 6.2 and later)."""
        ids = {"teamId": _id("team_id", team_id)}
        path = "/api/v2/team/usage"
        return await self._usage(path, start, end, granularity, organization_id, ids, UsageReportV2)

    async def get_user_usage_v2(
        self,
        user_id: str,
        start: DateLike,
        end: DateLike,
        granularity: Granularity | str = Granularity.ALL,
        *,
        organization_id: str | None = None,
    ) -> UsageReportV2:
        """One user's v2 usage over ``[start, end)`` (Tabnine 6.2 and later)."""
        ids = {"userId": _id("user_id", user_id)}
        path = "/api/v2/user/usage"
        return await self._usage(path, start, end, granularity, organization_id, ids, UsageReportV2)

    # -- Tabnine 6.2: agent usage ------------------------------------------------------------

    async def get_organization_agent_usage(
        self,
        start: DateLike,
        end: DateLike,
        granularity: Granularity | str = Granularity.ALL,
        *,
        organization_id: str | None = None,
    ) -> AgentUsageReport:
        """The organization's agent tokens and cost over ``[start, end)``.

        Raises ``FeatureNotAvailableError`` when the licence lacks the Agent feature.
        """
        path = "/api/v1/organization/agent-usage"
        return await self._usage(
            path, start, end, granularity, organization_id, {}, AgentUsageReport
        )

    async def get_team_agent_usage(
        self,
        team_id: str,
        start: DateLike,
        end: DateLike,
        granularity: Granularity | str = Granularity.ALL,
        *,
        organization_id: str | None = None,
    ) -> AgentUsageReport:
        """A team's agent tokens and cost over ``[start, end)``."""
        ids = {"teamId": _id("team_id", team_id)}
        path = "/api/v1/team/agent-usage"
        return await self._usage(
            path, start, end, granularity, organization_id, ids, AgentUsageReport
        )

    async def get_user_agent_usage(
        self,
        user_id: str,
        start: DateLike,
        end: DateLike,
        granularity: Granularity | str = Granularity.ALL,
        *,
        organization_id: str | None = None,
    ) -> AgentUsageReport:
        """One user's agent tokens and cost over ``[start, end)``."""
        ids = {"userId": _id("user_id", user_id)}
        path = "/api/v1/user/agent-usage"
        return await self._usage(
            path, start, end, granularity, organization_id, ids, AgentUsageReport
        )

    # -- Tabnine 6.2: audit logs -------------------------------------------------------------

    async def iter_audit_logs(
        self,
        start: DateLike | None = None,
        end: DateLike | None = None,
        *,
        event_type: str | None = None,
        actor_id: str | None = None,
        actor_email: str | None = None,
        resource_type: str | None = None,
        resource_id: str | None = None,
        sort: str = "desc",
    ) -> AsyncIterator[AuditEvent]:
        """The organization's audit events in ``[start, end)`` (each bound optional), filtered.

        Pages hold at most 1000 events (``page_size`` is capped there); the walk ends on an
        empty page and never relies on the approximate ``total``.

        >>> async for event in client.iter_audit_logs("2026-01-01", event_type="role.assigned"):
        ...     print(event.timestamp, event.actor)  # doctest: +SKIP
        """
        params = audit_log_params(
            start,
            end,
            sort=sort,
            event_type=event_type,
            actor_id=actor_id,
            actor_email=actor_email,
            resource_type=resource_type,
            resource_id=resource_id,
        )
        path = "/api/v1/organization/audit-logs"

        async def fetch(offset: int, limit: int) -> Any:
            page = {**params, "offset": str(offset), "limit": str(limit)}
            return await self._get(path, page, endpoint=path)

        limit = min(self._page_size, MAX_AUDIT_PAGE)
        async for items in paginate_audit_logs(fetch, limit=limit, endpoint=path):
            events: list[AuditEvent] = decode(
                items, list[AuditEvent], endpoint=path, root="$.items"
            )
            for event in events:
                yield event

    async def export_audit_logs_csv(
        self,
        destination: Destination,
        start: DateLike | None = None,
        end: DateLike | None = None,
        *,
        event_type: str | None = None,
        actor_id: str | None = None,
        actor_email: str | None = None,
        resource_type: str | None = None,
        resource_id: str | None = None,
        sort: str = "desc",
    ) -> int:
        """Stream the server's CSV export of audit events to a path or a binary file object.

        The body is written chunk by chunk as it arrives, never held whole in memory. A path is
        written atomically: to a temporary file beside it, renamed over ``destination`` only once
        the whole export arrived (a failure leaves any earlier file untouched). A file object
        gets the bytes as they come; after a failure it may hold part of the export. Returns
        the number of bytes written.

        Example: ``await client.export_audit_logs_csv("audit.csv", "2026-01-01", "2026-02-01")``
        """
        params = audit_log_params(
            start,
            end,
            sort=sort,
            event_type=event_type,
            actor_id=actor_id,
            actor_email=actor_email,
            resource_type=resource_type,
            resource_id=resource_id,
        )
        params["format"] = "csv"
        path = "/api/v1/organization/audit-logs"
        if isinstance(destination, (str, os.PathLike)):
            return await self._export_to_path(Path(destination), path, params)
        write = getattr(destination, "write", None)
        if not callable(write):
            raise InvalidParameterError(
                "destination must be a path or a binary file object with write(), "
                f"not {type(destination).__name__}"
            )
        return await self._transport.stream_get(path, params, sink=write, accept="text/csv")

    async def _export_to_path(self, target: Path, path: str, params: Mapping[str, str]) -> int:
        fd, temp = _temp_beside(target)
        try:
            with os.fdopen(fd, "wb") as out:
                written = await self._transport.stream_get(
                    path, params, sink=out.write, accept="text/csv"
                )
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            _discard(temp)
            raise
        return written

    # -- Tabnine 6.2: invitations, user management, teams ------------------------------------

    async def iter_invitations(self, team_id: str | None = None) -> AsyncIterator[Invitation]:
        """Pending invitations of the organization, or of one team."""
        params = {} if team_id is None else {"teamId": _id("team_id", team_id)}
        path = "/api/invitation/v1"

        async def fetch(offset: int, limit: int) -> Any:
            page = {"offset": str(offset), "limit": str(limit), **params}
            return await self._get(path, page, endpoint=path)

        async for items in paginate_invitations(fetch, limit=self._page_size, endpoint=path):
            invitations: list[Invitation] = decode(
                items, list[Invitation], endpoint=path, root="$.data"
            )
            for invitation in invitations:
                yield invitation

    async def get_managed_user(self, user_id: str) -> ManagedUser:
        """A user as user management sees it: role, active, primary and allowed teams."""
        path = f"/api/user/v1/{encode_path_segment(user_id, name='user_id')}"
        return await self._get_model(ManagedUser, path, endpoint="/api/user/v1/{userId}")

    async def get_user_by_email(self, email: str) -> UserLookup:
        """The user with this email address (``NotFoundError`` if none in the organization)."""
        path = f"/api/user/v1/by-email/{encode_path_segment(email, name='email')}"
        return await self._get_model(UserLookup, path, endpoint="/api/user/v1/by-email/{email}")

    async def get_allowed_teams(self, user_id: str) -> list[Team]:
        """The teams a user is allowed to access."""
        segment = encode_path_segment(user_id, name="user_id")
        path = f"/api/user/v1/{segment}/allowed-teams"
        endpoint = "/api/user/v1/{userId}/allowed-teams"
        return await self._get_model(list[Team], path, endpoint=endpoint)

    async def get_team_details(self, team_id: str) -> Team:
        """A team with everything the team API says (seat cap, synced group, invitations...)."""
        path = f"/api/team/v1/{encode_path_segment(team_id, name='team_id')}"
        return await self._get_model(Team, path, endpoint="/api/team/v1/{teamid}")
