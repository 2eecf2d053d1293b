"""The pagination generator, driven by a plain page function."""

from __future__ import annotations

from typing import Any

import pytest

from tabnine_usage_async import DecodeError, PaginationError
from tabnine_usage_async.pagination import paginate


def pages_of(total: int, *, page: int, style: str = "absent") -> Any:
    calls: list[tuple[int, int]] = []

    async def fetch(offset: int, limit: int) -> Any:
        calls.append((offset, limit))
        size = min(page, limit)
        items = list(range(offset, min(offset + size, total)))
        nxt = offset + len(items)
        meta: dict[str, Any] = {"count": len(items), "total": total}
        if nxt < total:
            meta["next"] = {"offset": nxt, "limit": limit}
        elif style == "null":
            meta["next"] = None
        return {"data": items, "meta": meta}

    return fetch, calls


async def collect(fetch: Any, limit: int) -> list[Any]:
    return [item async for items in paginate(fetch, limit=limit, endpoint="/e") for item in items]


@pytest.mark.parametrize(
    ("total", "page", "limit", "style", "requests"),
    [
        (0, 10, 10, "absent", 1),
        (10, 10, 10, "absent", 1),
        (20, 10, 10, "null", 2),
        (25, 10, 10, "absent", 3),
        (25, 7, 10, "null", 4),  # server pages shorter than the limit
    ],
)
async def test_paginate_follows_next(
    total: int, page: int, limit: int, style: str, requests: int
) -> None:
    """Every item arrives once, in order, with explicit offsets and limits on every request."""
    fetch, calls = pages_of(total, page=page, style=style)
    assert await collect(fetch, limit) == list(range(total))
    assert len(calls) == requests
    assert all(lim == limit for _, lim in calls)
    assert calls[0][0] == 0


async def test_paginate_refuses_a_repeated_offset() -> None:
    """A server that keeps answering the same next offset raises instead of looping."""

    async def fetch(offset: int, limit: int) -> Any:
        return {"data": [1], "meta": {"next": {"offset": 5, "limit": limit}}}

    with pytest.raises(PaginationError, match="does not move past"):
        await collect(fetch, 10)


async def test_paginate_refuses_an_oversized_page_before_yielding() -> None:
    """A page larger than the limit is an error, and none of its items are yielded."""

    async def fetch(offset: int, limit: int) -> Any:
        return {"data": list(range(limit + 1)), "meta": {}}

    got: list[int] = []

    async def consume() -> None:
        async for items in paginate(fetch, limit=3, endpoint="/e"):
            got.extend(items)

    with pytest.raises(PaginationError, match="limit was 3"):
        await consume()
    assert got == []


@pytest.mark.parametrize("body", [[], {"meta": {}}, {"data": {"a": 1}}, "x"])
async def test_paginate_wrong_shape(body: Any) -> None:
    """A list body without a data array is a DecodeError."""

    async def fetch(offset: int, limit: int) -> Any:
        return body

    with pytest.raises(DecodeError):
        await collect(fetch, 10)
