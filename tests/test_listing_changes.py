"""A roster that changes while it is paged through is re-listed, never silently cut short."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from tabnine_usage_async import TabnineClient, list_members
from tabnine_usage_async.backfill import backfill
from tabnine_usage_async.errors import ListingChangedError
from tabnine_usage_async.listing import RELISTS
from tabnine_usage_async.pagination import paginate
from tabnine_usage_async.testing import serve_fake_tabnine

PAGE = 2


def scripted_pages(pages: list[tuple[list[int], int | None, int | None]]) -> Any:
    """A page function answering (items, total, next offset) in order."""

    async def fetch(offset: int, limit: int) -> Any:
        items, total, nxt = pages.pop(0)
        meta: dict[str, Any] = {"count": len(items)}
        if total is not None:
            meta["total"] = total
        if nxt is not None:
            meta["next"] = {"offset": nxt, "limit": limit}
        return {"data": items, "meta": meta}

    return fetch


async def drain(fetch: Any) -> list[int]:
    return [i async for items in paginate(fetch, limit=PAGE, endpoint="/e") for i in items]


@pytest.mark.parametrize(
    "pages",
    [
        # A member removed after page 1: total drops from 5 to 4 and one member is skipped.
        [([1, 2], 5, 2), ([4, 5], 4, None)],
        # The total is the same on every page but fewer items arrived than it announced.
        [([1, 2], 5, 2), ([4, 5], 5, None)],
        # A member added: one item is seen twice and the total grows.
        [([1, 2], 4, 2), ([2, 3], 5, 4), ([4, 5], 5, None)],
    ],
)
async def test_inconsistent_pages_raise_listing_changed(pages: list[Any]) -> None:
    """Counts that disagree with meta.total, or a total that moves, raise ListingChangedError."""
    with pytest.raises(ListingChangedError):
        await drain(scripted_pages(pages))


@pytest.mark.parametrize(
    "pages",
    [
        [([1, 2], 4, 2), ([3, 4], 4, None)],
        [([1, 2], None, 2), ([3], None, None)],  # no total sent: nothing to check against
        [([], 0, None)],
    ],
)
async def test_consistent_pages_pass(pages: list[Any]) -> None:
    """Pages whose items add up to meta.total, or that send no total, are accepted."""
    expected = [item for items, _, _ in pages for item in items]
    assert await drain(scripted_pages(pages)) == expected


class ShrinkingRoster:
    """In front of the fake: one team's member list loses a member after a listing's first page.

    ``times`` is how many listings see a removal (each removes one more member).
    """

    def __init__(self, upstream: str, team_id: str, times: int) -> None:
        self.upstream = upstream
        self.path = f"/api/v1/team/{team_id}/users"
        self.times = times
        self.members: list[Any] | None = None
        self.removed: list[str] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        headers = {"Authorization": request.headers["Authorization"]}
        async with ClientSession() as session:
            if request.path != self.path:
                async with session.get(self.upstream + request.path_qs, headers=headers) as r:
                    return web.Response(
                        status=r.status, body=await r.read(), content_type="application/json"
                    )
            if self.members is None:
                url = f"{self.upstream}{self.path}?offset=0&limit=1000"
                async with session.get(url, headers=headers) as r:
                    self.members = (await r.json())["data"]
        offset, limit = int(request.query["offset"]), int(request.query["limit"])
        page = self.members[offset : offset + limit]
        meta: dict[str, Any] = {"count": len(page), "total": len(self.members)}
        if offset + len(page) < len(self.members):
            meta["next"] = {"offset": offset + len(page), "limit": limit}
        if offset == 0 and len(self.removed) < self.times:
            # Removed between this page and the next, as an admin would in the console.
            self.removed.append(self.members.pop(0)["id"])
        return web.Response(text=json.dumps({"data": page, "meta": meta}))


def _app(front: ShrinkingRoster) -> web.Application:
    app = web.Application()
    app.router.add_get("/{tail:.*}", front.handle)
    return app


async def test_member_removed_between_pages_is_relisted(tmp_path: Path) -> None:
    """A removal between two pages triggers a re-list: every remaining member gets fetched."""
    async with serve_fake_tabnine(teams=1, users=8, seed=2) as fake:
        team = fake.dataset.teams[0]
        members = [u.id for u in fake.dataset.team_members(team.id)]
        assert len(members) > 2 * PAGE
        front = ShrinkingRoster(fake.base_url, team.id, times=1)
        async with TestServer(_app(front), host="127.0.0.1") as server:
            base_url = f"http://127.0.0.1:{server.port}"
            async with TabnineClient(token=fake.token, base_url=base_url, page_size=PAGE) as c:
                roster = await list_members(c, include_unassigned=False)
                summary = await backfill(
                    c, "2026-01-01", "2026-01-02", sink=tmp_path / "o.jsonl", scopes="user"
                )
    expected = [m for m in members if m not in front.removed]
    assert [m.user.id for m in roster.members] == expected
    assert not summary.failed
    rows = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    fetched = {row["user_id"] for row in rows}
    assert set(expected) <= fetched


async def test_roster_that_never_settles_is_a_listing_failure(tmp_path: Path) -> None:
    """A list that changes on every try fails as a listing, typed, after bounded re-lists."""
    async with serve_fake_tabnine(teams=1, users=40, seed=2) as fake:
        team = fake.dataset.teams[0]
        front = ShrinkingRoster(fake.base_url, team.id, times=1000)
        async with TestServer(_app(front), host="127.0.0.1") as server:
            base_url = f"http://127.0.0.1:{server.port}"
            async with TabnineClient(token=fake.token, base_url=base_url, page_size=PAGE) as c:
                with pytest.raises(ListingChangedError):
                    await list_members(c, include_unassigned=False)
                summary = await backfill(
                    c, "2026-01-01", "2026-01-02", sink=tmp_path / "o.jsonl", scopes="user"
                )
    assert len(front.removed) == 2 * (RELISTS + 1)
    assert [f.key for f in summary.failed] == [f"list|team-users|{team.id}"]
    assert "changed" in summary.failed[0].cause
