"""The synthetic organization behind the fake server: shape, determinism and ground truth."""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import date, datetime, timedelta, timezone

from tabnine_usage_async.testing import DEFAULT_TODAY, Dataset


def test_same_seed_builds_the_same_organization() -> None:
    """Two datasets from one seed hold identical organizations, teams and users."""
    first, second = Dataset(seed=5, teams=6, users=80), Dataset(seed=5, teams=6, users=80)
    assert first.organization == second.organization
    assert first.teams == second.teams
    assert first.users == second.users


def test_different_seeds_build_different_organizations() -> None:
    """Changing the seed changes ids and people."""
    first, second = Dataset(seed=5, users=30), Dataset(seed=6, users=30)
    assert first.organization.id != second.organization.id
    assert [u.id for u in first.users] != [u.id for u in second.users]


def test_organization_has_the_realistic_shape() -> None:
    """One default team, unassigned active and deactivated users, a user in two teams."""
    data = Dataset(seed=2, teams=5, users=60)
    defaults = [team for team in data.teams if team.is_default]
    assert len(defaults) == 1
    assert data.unassigned_user_ids(True)
    assert data.unassigned_user_ids(False)
    assert any(len(user.team_ids) == 2 for user in data.users)
    assert all(team.member_ids for team in data.teams)
    assert {user.role for user in data.users} >= {"Admin", "Member"}


def test_people_have_unique_emails_on_the_domain_and_uuid4_ids() -> None:
    """Emails are unique and on the organization's domain; ids are version-4 UUIDs."""
    data = Dataset(seed=9, teams=8, users=400)
    emails = [user.email for user in data.users]
    assert len(set(emails)) == len(emails)
    assert all(email.endswith("@" + data.organization.domain) for email in emails)
    ids = [user.id for user in data.users] + [team.id for team in data.teams]
    assert all(uuid.UUID(value).version == 4 for value in ids)
    assert len(set(ids)) == len(ids)


def test_deactivated_users_carry_a_deactivation_time() -> None:
    """A user is inactive exactly when ``deactivated_at`` is set, and it follows creation."""
    data = Dataset(seed=4, users=300)
    deactivated = [user for user in data.users if not user.active]
    assert deactivated
    assert all(
        u.deactivated_at is not None and u.deactivated_at > u.created_at for u in deactivated
    )


def test_membership_lists_agree_with_users() -> None:
    """A user lists a team exactly when the team lists the user."""
    data = Dataset(seed=3, teams=7, users=150)
    for team in data.teams:
        for user in data.users:
            assert (user.id in team.member_ids) == (team.id in user.team_ids)


def test_large_organization_builds_fast_with_uneven_teams() -> None:
    """10,000 users build quickly; team sizes are uneven and several users are in two teams."""
    started = time.perf_counter()
    data = Dataset(seed=1, teams=40, users=10_000)
    elapsed = time.perf_counter() - started
    print(f"10,000-user organization built in {elapsed:.3f} s")
    assert elapsed < 30  # generous: this guards against accidental quadratic work only
    sizes = sorted(len(team.member_ids) for team in data.teams)
    assert sizes[-1] > 3 * statistics.median(sizes)
    assert sum(1 for user in data.users if len(user.team_ids) == 2) > 5


def test_empty_teams_and_empty_organizations_are_possible() -> None:
    """``empty_teams`` adds teams without members; zero users and teams is a valid org."""
    data = Dataset(seed=1, teams=3, users=20, empty_teams=2)
    assert [len(team.member_ids) for team in data.teams[-2:]] == [0, 0]
    empty = Dataset(seed=1, teams=0, users=0)
    assert empty.teams == ()
    assert empty.users == ()


def test_unverified_and_deactivated_users_are_never_active_when_they_cannot_be() -> None:
    """No activity for invited users, after deactivation, before creation or after today."""
    data = Dataset(seed=8, users=200)
    days = [DEFAULT_TODAY - timedelta(days=n) for n in range(60)]
    for user in data.users:
        for day in days:
            metrics = data.user_day_metrics(user.id, day)
            if not user.verified or day < user.created_at.date():
                assert not metrics.active
            if user.deactivated_at is not None and day >= user.deactivated_at.date():
                assert not metrics.active
    future = data.user_day_metrics(data.users[0].id, DEFAULT_TODAY + timedelta(days=1))
    assert not future.active
    assert future.completions == 0


def test_activity_is_partial_and_quieter_on_weekends() -> None:
    """Many users are idle on a given day, and weekends see less activity than weekdays."""
    data = Dataset(seed=8, users=300)
    weekday_active = weekend_active = 0
    weekdays = weekends = 0
    for offset in range(28):
        day = date(2025, 12, 1) + timedelta(days=offset)
        active = sum(data.user_day_metrics(u.id, day).active for u in data.users)
        assert 0 < active < len(data.users) * 0.8
        if day.weekday() >= 5:
            weekend_active, weekends = weekend_active + active, weekends + 1
        else:
            weekday_active, weekdays = weekday_active + active, weekdays + 1
    assert weekend_active / weekends < 0.6 * weekday_active / weekdays


def test_day_metrics_respect_the_glossary() -> None:
    """Active means code or chat; useful chats never exceed interactions; lines fit completions."""
    data = Dataset(seed=12, users=100)
    for user in data.users:
        for offset in range(14):
            m = data.user_day_metrics(user.id, date(2026, 1, 1) + timedelta(days=offset))
            assert m.active == (m.code_active or m.chat_active)
            assert m.useful_chat_interactions <= m.chat_interactions
            assert m.code_lines <= m.completions
            assert (m.completions > 0) == m.code_active
            assert (m.chat_interactions > 0) == m.chat_active


def test_account_utilizations_default_to_twelve_zero_based_months() -> None:
    """Without a start, 12 rows end at today's month, with ``month`` counted from zero."""
    data = Dataset(seed=3, users=40, today=date(2026, 3, 10))
    rows = data.account_utilizations()
    assert len(rows) == 12
    assert (rows[-1]["year"], rows[-1]["month"]) == (2026, 2)
    assert (rows[0]["year"], rows[0]["month"]) == (2025, 3)
    assert all(0 <= row["month"] <= 11 for row in rows)


def test_account_utilization_counts_match_the_users() -> None:
    """The current month's registered/deactivated/pending counts follow the user records."""
    data = Dataset(seed=3, users=120)
    row = data.account_utilizations()[-1]
    assert row["deactivated"] == sum(1 for u in data.users if not u.active)
    assert row["registered"] == sum(1 for u in data.users if u.active and u.verified)
    assert row["pending"] == sum(1 for u in data.users if u.active and not u.verified)


def test_team_utilization_follows_roster_changes() -> None:
    """A team's seat counts change when a member is deactivated or a user joins it."""
    data = Dataset(seed=3, teams=4, users=60)
    team = next(t for t in data.teams if any(data.user(u).active for u in t.member_ids))
    before = data.team_utilization(team.id)
    assert sum(before.values()) == len(team.member_ids)
    member = next(u for u in team.member_ids if data.user(u).active and data.user(u).verified)
    moment = datetime(2026, 1, 5, tzinfo=timezone.utc)
    data.deactivate_user(member, moment)
    after = data.team_utilization(team.id)
    assert after["deactivated"] == before["deactivated"] + 1
    assert after["registered"] == before["registered"] - 1
    data.add_user(moment, team_ids=[team.id])
    assert data.team_utilization(team.id)["registered"] == after["registered"] + 1
    assert data.team_json(team.id)["usersCount"] == sum(data.team_utilization(team.id).values())


def test_team_utilization_answers_are_independent_copies() -> None:
    """Changing a returned count does not change the next answer."""
    data = Dataset(seed=3, teams=4, users=60)
    team_id = data.teams[0].id
    first = data.team_utilization(team_id)
    expected = dict(first)
    first["registered"] = -1
    assert data.team_utilization(team_id) == expected
