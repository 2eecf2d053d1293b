"""One sentence per metric of the report, following Tabnine's own reports glossary."""

from __future__ import annotations

from ._model import Definition

__all__ = ["DEFINITIONS"]

DEFINITIONS: tuple[Definition, ...] = (
    Definition(
        "Active user",
        "A user with at least one chat interaction or accepted code completion in the period "
        "(agent messages count too on Tabnine 6.2 and later).",
    ),
    Definition(
        "Daily / weekly active users",
        "Distinct active users on a UTC day, or in a Monday-to-Sunday week (not the sum of days).",
    ),
    Definition(
        "Licensed seats", "The number of seats of the organization's licence, when recorded."
    ),
    Definition(
        "Registered", "Users with a seat: in the organization, verified and not deactivated."
    ),
    Definition(
        "Active in the last 28 days",
        "Registered users active at least once in the 28 days that end with the period.",
    ),
    Definition("Activation rate", "Active in the last 28 days divided by registered users."),
    Definition("Deactivated", "Users whose account was deactivated; they keep their history."),
    Definition("Pending invitations", "Invitations sent and neither accepted nor revoked."),
    Definition(
        "Monthly utilization",
        "The server's active users of a month divided by its registered users that month.",
    ),
    Definition("Code completions", "Code completions the users accepted."),
    Definition("Chat messages", "Unique chat messages the users sent."),
    Definition("Agent messages", "Unique messages the users sent to the agent."),
    Definition("Completion lines", "Lines of code from accepted completions."),
    Definition("Chat lines added", "Lines of code added to files from chat answers."),
    Definition(
        "Agent lines added / accepted",
        "Lines the agent proposed to add, and those of them the user accepted.",
    ),
    Definition(
        "Activity per active user",
        "Completions plus chat and agent messages in the period, per active member.",
    ),
    Definition(
        "Trend",
        "Change of a team's activity over the period's last 28 days against the 28 days before.",
    ),
    Definition(
        "Seats to reclaim",
        "Registered users whose last active day lies at least the given number of days before "
        "the period's end, or who were never active in the dataset.",
    ),
    Definition("Tokens", "Input and output tokens the agent consumed."),
    Definition("Cost", "The agent's token cost as the server reports it, in its currency."),
    Definition(
        "Per-day average",
        "A metric's total over the counted days of the period divided by their number "
        "(weekends left out when the report says so).",
    ),
    Definition(
        "Provisional day",
        "A day fetched before it ended: the next sync fetches it again and it may still change.",
    ),
)
