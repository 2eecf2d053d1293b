"""The table of every stream: columns with types and meanings, primary key, period column.

These schemas are a contract, like ``UsageRecord``: dashboards and warehouses read these tables.
Columns are only ever added (raising the table's ``version``), never renamed or dropped.

Conventions shared by every table:

* incremental tables (those with a ``period_column``) end with ``fetched_at`` and ``complete``:
  when the row was fetched, and whether its period had ended by then (``False`` marks a
  provisional row that a later sync fetches again);
* entity tables (usage, agent usage...) name the entity twice: ``scope`` + ``entity_id`` form the
  key (never null), and ``organization_id`` / ``team_id`` / ``user_id`` say the same in columns
  that join with ``teams`` and ``users``;
* ``extra`` keeps the keys of an answer this version does not know, as received.
"""

from __future__ import annotations

from ..destinations import Column, TableSchema

__all__ = [
    "AGENT_USAGE",
    "AGENT_USAGE_BREAKDOWN",
    "ALL_ROWS",
    "AUDIT_LOG",
    "INVITATIONS",
    "MODEL_USAGE",
    "SEATS",
    "TABLES",
    "TEAMS",
    "USAGE",
    "USAGE_V1",
    "USERS",
]

#: The value of ``agent_type`` or ``model`` in a breakdown row that sums over all of them.
ALL_ROWS = "*"


def _entity() -> tuple[Column, ...]:
    return (
        Column("scope", "text", False, "organization, team or user: what the row is about."),
        Column("entity_id", "text", False, "The organization, team or user id of the row."),
        Column("organization_id", "text", False, "The organization."),
        Column("team_id", "text", True, "The team, on team rows only."),
        Column(
            "team_ids",
            "text_list",
            True,
            "On user rows, every team of the user when the row was fetched (empty: no team).",
        ),
        Column("user_id", "text", True, "The user, on user rows only."),
        Column("user_email", "text", True, "The user's email, on user rows only."),
    )


def _period(granularity_doc: str) -> tuple[Column, ...]:
    return (
        Column("granularity", "text", False, granularity_doc),
        Column("period_start", "timestamp", False, "Start of the period (UTC, inclusive)."),
        Column("period_end", "timestamp", False, "End of the period (UTC, exclusive)."),
    )


def _fetched(*, complete: bool) -> tuple[Column, ...]:
    columns = [
        Column("extra", "json", True, "Fields of the answer this version does not know."),
        Column("fetched_at", "timestamp", False, "When the row was fetched (UTC)."),
    ]
    if complete:
        columns.append(
            Column(
                "complete",
                "boolean",
                False,
                "True when the period had ended when the row was fetched; "
                "false marks a provisional row.",
            )
        )
    return tuple(columns)


_GRANULARITY = "daily, weekly or monthly: the length of the period."
_ENTITY_KEY = ("scope", "entity_id", "granularity", "period_start")

#: ``usage``: v2 usage (Tabnine 6.2+) of the organization, every team and every user.
USAGE = TableSchema(
    name="usage",
    columns=(
        *_entity(),
        *_period(_GRANULARITY),
        Column("active_users", "integer", True, "Distinct active users in the period."),
        Column(
            "code_completions_active_users", "integer", True, "Users who accepted a completion."
        ),
        Column("code_completions", "integer", True, "Accepted code completions."),
        Column("code_completions_chars", "integer", True, "Characters of accepted completions."),
        Column("code_completions_keystrokes", "integer", True, "Keystrokes saved by completions."),
        Column("code_completions_lines", "integer", True, "Lines of accepted completions."),
        Column("chat_active_users", "integer", True, "Users who chatted."),
        Column("chat_messages", "integer", True, "Unique chat messages."),
        Column("chat_lines_added", "integer", True, "Lines of code added via chat."),
        Column("agent_active_users", "integer", True, "Users who used the agent."),
        Column("agent_messages", "integer", True, "Unique agent messages."),
        Column("agent_lines_added", "integer", True, "Lines the agent added."),
        Column("agent_lines_added_accepted", "integer", True, "Added lines the user accepted."),
        Column("agent_lines_removed", "integer", True, "Lines the agent removed."),
        Column("agent_lines_removed_accepted", "integer", True, "Removed lines the user accepted."),
        Column("ides", "text", True, "The server's IDE usage value, when it sends one."),
        Column("languages", "text", True, "The server's language usage value, when it sends one."),
        *_fetched(complete=True),
    ),
    key=_ENTITY_KEY,
    period_column="period_start",
)

#: ``agent_usage``: agent usage totals (tokens, cost) of the organization, teams and users.
AGENT_USAGE = TableSchema(
    name="agent_usage",
    columns=(
        *_entity(),
        *_period(_GRANULARITY),
        Column("active_users", "integer", True, "Distinct users of the agent in the period."),
        Column("total_tokens", "integer", True, "Tokens consumed, input and output."),
        Column("total_input_tokens", "integer", True, "Input tokens consumed."),
        Column("total_output_tokens", "integer", True, "Output tokens consumed."),
        Column("total_cost", "float", True, "Cost of the tokens, as the server reports it."),
        *_fetched(complete=True),
    ),
    key=_ENTITY_KEY,
    period_column="period_start",
)

#: ``agent_usage_breakdown``: agent usage per agent type and model. A row with ``model = '*'``
#: is an agent type's total; one with ``agent_type = '*'`` is a model's total over every type.
AGENT_USAGE_BREAKDOWN = TableSchema(
    name="agent_usage_breakdown",
    columns=(
        *_entity(),
        *_period(_GRANULARITY),
        Column(
            "agent_type", "text", False, "The agent type (IDE, CLI...); '*' on a model's total."
        ),
        Column("model", "text", False, "The model; '*' on an agent type's total."),
        Column("active_users", "integer", True, "Users of the agent type (type totals only)."),
        Column("interactions", "integer", True, "Interactions (type totals only)."),
        Column("user_initiated_messages", "integer", True, "Messages users sent (type totals)."),
        Column("lines_added", "integer", True, "Lines added (type totals only)."),
        Column("lines_added_accepted", "integer", True, "Added lines accepted (type totals)."),
        Column("lines_removed", "integer", True, "Lines removed (type totals only)."),
        Column("lines_removed_accepted", "integer", True, "Removed lines accepted (type totals)."),
        Column("tokens", "integer", True, "Tokens consumed, input and output."),
        Column("input_tokens", "integer", True, "Input tokens consumed."),
        Column("output_tokens", "integer", True, "Output tokens consumed."),
        Column("cost", "float", True, "Cost of the tokens, as the server reports it."),
        *_fetched(complete=True),
    ),
    key=(*_ENTITY_KEY, "agent_type", "model"),
    period_column="period_start",
)

#: ``model_usage``: chat and agent usage per model over each whole window (``granularity=all``).
MODEL_USAGE = TableSchema(
    name="model_usage",
    columns=(
        *_entity(),
        *_period("Always 'all': one period per window of the sync."),
        Column("section", "text", False, "chat or agent."),
        Column("model", "text", False, "Tabnine's internal model id (not a display name)."),
        Column("messages", "integer", True, "Messages answered by the model."),
        Column("unique_users", "integer", True, "Distinct users of the model."),
        Column("input_tokens", "integer", True, "Input tokens."),
        Column("output_tokens", "integer", True, "Output tokens."),
        *_fetched(complete=True),
    ),
    key=(*_ENTITY_KEY, "section", "model"),
    period_column="period_start",
)

#: ``usage_v1``: legacy v1 usage, the columns of ``UsageRecord`` (plus ``entity_id``).
USAGE_V1 = TableSchema(
    name="usage_v1",
    columns=(
        *_entity(),
        *_period(_GRANULARITY),
        Column("active_users", "integer", True, "Distinct active users in the period."),
        Column("productivity_factor", "float", True, "The server's productivity factor."),
        Column(
            "code_completions_active_users", "integer", True, "Users who accepted a completion."
        ),
        Column("code_completions", "integer", True, "Accepted code completions."),
        Column("code_completions_chars", "integer", True, "Characters of accepted completions."),
        Column("code_completions_keystrokes", "integer", True, "Keystrokes saved by completions."),
        Column("code_completions_lines", "integer", True, "Lines of accepted completions."),
        Column("automation_factor", "float", True, "Share of code produced by completions."),
        Column("chat_active_users", "integer", True, "Users who chatted."),
        Column("chat_interactions", "integer", True, "Chat interactions."),
        Column("chat_useful_interactions", "integer", True, "Chat answers used in code."),
        Column("chat_lines", "integer", True, "Lines from useful chat answers."),
        Column("chat_chars", "integer", True, "Characters from useful chat answers."),
        Column("chat_consumption_rate", "float", True, "Useful share of chat interactions."),
        *_fetched(complete=True),
    ),
    key=_ENTITY_KEY,
    period_column="period_start",
)

#: ``users``: every user once, as of the last sync (deactivated users included).
USERS = TableSchema(
    name="users",
    columns=(
        Column("user_id", "text", False, "The user."),
        Column("email", "text", True, "The user's email."),
        Column("username", "text", True, "The user's name."),
        Column("role", "text", True, "Member, TeamLead, Manager or Admin."),
        Column("verified", "boolean", True, "Whether the user verified the email."),
        Column("team_ids", "text_list", True, "Every team of the user (empty: no team)."),
        Column("deactivated_at", "timestamp", True, "When the user was deactivated, or null."),
        Column("updated_at", "timestamp", True, "When the server last changed the user."),
        *_fetched(complete=False),
    ),
    key=("user_id",),
)

#: ``teams``: every team, as of the last sync.
TEAMS = TableSchema(
    name="teams",
    columns=(
        Column("team_id", "text", False, "The team."),
        Column("name", "text", True, "The team's name."),
        Column("users_count", "integer", True, "Members, as the server counts them."),
        Column("is_default_team", "boolean", True, "Whether new users join this team."),
        Column("seat_cap", "integer", True, "The team's seat limit, when one is set."),
        Column("pending_invitations_count", "integer", True, "Open invitations to the team."),
        Column("synced_group_id", "text", True, "The synced external group, if any."),
        *_fetched(complete=False),
    ),
    key=("team_id",),
)

#: ``seats``: monthly account utilization; the current month's row is provisional.
SEATS = TableSchema(
    name="seats",
    columns=(
        Column("month", "date", False, "The month's first day."),
        Column("year", "integer", False, "The calendar year."),
        Column("month_number", "integer", False, "The calendar month, 1 = January."),
        Column("registered", "integer", True, "Registered users."),
        Column("deactivated", "integer", True, "Deactivated users."),
        Column("active", "integer", True, "Active users."),
        Column("pending", "integer", True, "Pending users."),
        Column("provisional", "boolean", False, "True for the month not yet over when fetched."),
        *_fetched(complete=False),
    ),
    key=("month",),
)

#: ``invitations``: pending invitations, as of the last sync.
INVITATIONS = TableSchema(
    name="invitations",
    columns=(
        Column("invitation_id", "text", False, "The invitation."),
        Column("email", "text", True, "Who was invited."),
        Column("team_id", "text", True, "The team invited to."),
        Column("role", "text", True, "The role offered."),
        Column("created_at", "timestamp", True, "When it was sent."),
        Column("expires_at", "timestamp", True, "When it expires, if it does."),
        Column("revoked_at", "timestamp", True, "When it was revoked, if it was."),
        *_fetched(complete=False),
    ),
    key=("invitation_id",),
)

#: ``audit_log``: the organization's audit events, incremental by their timestamp.
AUDIT_LOG = TableSchema(
    name="audit_log",
    columns=(
        Column("event_id", "text", False, "The event."),
        Column("timestamp", "timestamp", False, "When it happened (UTC)."),
        Column("event_type", "text", False, "What happened (team_member.added, ...)."),
        Column("actor_id", "text", True, "Who did it."),
        Column("actor_type", "text", True, "user, system or api_key."),
        Column("actor_email", "text", True, "The actor's email, for users."),
        Column("actor_display_name", "text", True, "The actor's name."),
        Column("resource_id", "text", True, "What it was done to."),
        Column("resource_type", "text", True, "team, user, role, organization..."),
        Column("resource_name", "text", True, "The resource's name."),
        Column("metadata", "json", True, "Details of the event."),
        Column("ip_address", "text", True, "Where the request came from."),
        Column("user_agent", "text", True, "The client of the request."),
        Column("client_id", "text", True, "The API client, if any."),
        Column("request_id", "text", True, "The request's id."),
        *_fetched(complete=True),
    ),
    key=("event_id",),
    period_column="timestamp",
)

#: Every table, in the order of the README's stream table.
TABLES: tuple[TableSchema, ...] = (
    USAGE,
    AGENT_USAGE,
    AGENT_USAGE_BREAKDOWN,
    MODEL_USAGE,
    USAGE_V1,
    USERS,
    TEAMS,
    SEATS,
    INVITATIONS,
    AUDIT_LOG,
)
