"""Asyncio SDK and bulk-backfill tool for Tabnine's Usage Metrics API.

Example::

    import asyncio
    from tabnine_usage_async import TabnineClient

    async def main() -> None:
        async with TabnineClient() as client:  # token from TABNINE_API_TOKEN
            org = await client.get_organization()
            report = await client.get_organization_usage("2026-01-01", "2026-02-01", "weekly")
            for block in report.blocks:
                print(org.name, block.start.date(), block.active_users)

    asyncio.run(main())
"""

from ._transport import ClientStats
from ._version import __version__
from ._wire import RetryPolicy
from .backfill import BackfillSummary, backfill
from .client import DEFAULT_BASE_URL, TabnineClient
from .errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    CertificateError,
    ClientClosedError,
    ConfigurationError,
    ConflictError,
    DecodeError,
    FeatureNotAvailableError,
    InvalidParameterError,
    ListingChangedError,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    ResponseTooLargeError,
    ServerError,
    TabnineError,
    TransportError,
    UnexpectedRedirectError,
    UnprocessableEntityError,
)
from .listing import Member, Roster, list_members
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
from .orchestrator import FailedUnit, UnitResult, UsageWalk, WalkProgress, WorkUnit, walk_usage
from .records import RECORD_FIELDS, UsageRecord
from .sync import SyncSpec, SyncSummary, plan_sync, run_sync
from .windows import Window, split_windows

__all__ = [
    "APIStatusError",
    "AccountUtilization",
    "AgentModelUsage",
    "AgentTypeUsage",
    "AgentUsagePoint",
    "AgentUsageReport",
    "AgentUsageV2",
    "AuditActor",
    "AuditEvent",
    "AuditRequestContext",
    "AuditResource",
    "AuthenticationError",
    "BackfillSummary",
    "BadRequestError",
    "CertificateError",
    "ChatUsage",
    "ChatUsageV2",
    "ClientClosedError",
    "ClientStats",
    "CodeCompletionsUsage",
    "CodeCompletionsUsageV2",
    "ConfigurationError",
    "ConflictError",
    "DEFAULT_BASE_URL",
    "DecodeError",
    "FailedUnit",
    "FeatureNotAvailableError",
    "Granularity",
    "InvalidParameterError",
    "Invitation",
    "License",
    "ListingChangedError",
    "ManagedUser",
    "Member",
    "ModelUsage",
    "NotFoundError",
    "Organization",
    "PaginationError",
    "PermissionDeniedError",
    "PermissionUser",
    "RECORD_FIELDS",
    "RateLimitError",
    "RequestTimeoutError",
    "ResponseTooLargeError",
    "RetryPolicy",
    "Roster",
    "ServerError",
    "SyncSpec",
    "SyncSummary",
    "TabnineClient",
    "TabnineError",
    "Team",
    "TeamInfo",
    "TeamUtilization",
    "TransportError",
    "UnexpectedRedirectError",
    "UnitResult",
    "UnprocessableEntityError",
    "UsageBlock",
    "UsageBucket",
    "UsageRecord",
    "UsageReport",
    "UsageReportV2",
    "UsageWalk",
    "User",
    "UserInfo",
    "UserLookup",
    "UserTeam",
    "WalkProgress",
    "Window",
    "WorkUnit",
    "__version__",
    "backfill",
    "list_members",
    "plan_sync",
    "run_sync",
    "split_windows",
    "walk_usage",
]
