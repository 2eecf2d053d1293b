"""Walk the API's three page shapes, as async generators.

- ``paginate``: ``{data, meta: {next: {offset, limit}}}`` (teams, users);
- ``paginate_invitations``: ``{data, meta: {next: <offset>}}`` (invitations);
- ``paginate_audit_logs``: ``{items, total, limit, offset}`` (audit logs).

Each generator takes a page-fetching callable, so it never imports the transport and can be
driven by a plain function in tests. Where the next page starts is decided by pure functions in
``_wire``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from ._wire import next_audit_offset, next_invitation_offset, next_page_offset
from .errors import DecodeError, ListingChangedError, PaginationError

__all__ = ["FetchPage", "paginate", "paginate_audit_logs", "paginate_invitations"]

#: ``await fetch_page(offset, limit)`` returns one page's decoded JSON body.
FetchPage = Callable[[int, int], Awaitable[Any]]


class NextOffset(Protocol):
    """Where the next page starts (``None`` after the last), read from a page's ``meta``."""

    def __call__(
        self, meta: Any, *, offset: int, count: int, limit: int, endpoint: str
    ) -> int | None: ...


async def paginate(
    fetch_page: FetchPage,
    *,
    limit: int,
    endpoint: str,
    next_offset: NextOffset = next_page_offset,
) -> AsyncIterator[list[Any]]:
    """Yield the ``data`` list of each page, starting at offset 0, until the last page.

    Every request carries an explicit ``offset`` and ``limit``. The walk ends when ``meta.next``
    is absent or null or a page is empty; it copes with pages shorter than ``limit`` and raises
    ``PaginationError`` rather than looping if the server repeats an offset. ``next_offset``
    reads where the next page starts (``meta.next.offset`` by default). Where the server
    sends ``meta.total``, a total that moves between pages, or items that do not add up to it at
    the end, raise ``ListingChangedError``: the list changed underneath the walk, and an offset
    walk then skips or repeats items.

    Example::

        async for items in paginate(fetch, limit=100, endpoint="/api/v1/organization/teams"):
            ...
    """
    offset = 0
    seen = 0
    total: int | None = None
    while True:
        body = await fetch_page(offset, limit)
        if not isinstance(body, dict):
            raise DecodeError("expected an object with data and meta", endpoint=endpoint)
        items = body.get("data")
        if not isinstance(items, list):
            raise DecodeError("expected an array", endpoint=endpoint, field="$.data")
        # Decide before yielding, so a broken page is reported instead of half-consumed.
        meta = body.get("meta")
        following = next_offset(
            meta, offset=offset, count=len(items), limit=limit, endpoint=endpoint
        )
        seen += len(items)
        total = _check_total(meta, total, seen, last=following is None, endpoint=endpoint)
        if items:
            yield items
        if following is None:
            return
        offset = following


async def paginate_invitations(
    fetch_page: FetchPage, *, limit: int, endpoint: str
) -> AsyncIterator[list[Any]]:
    """Like ``paginate``, for invitation pages whose ``meta.next`` is a plain integer offset."""
    async for items in paginate(
        fetch_page, limit=limit, endpoint=endpoint, next_offset=next_invitation_offset
    ):
        yield items


def _page_ids(items: list[Any]) -> tuple[Any, ...]:
    return tuple(item.get("id") if isinstance(item, dict) else None for item in items)


async def paginate_audit_logs(
    fetch_page: FetchPage, *, limit: int, endpoint: str
) -> AsyncIterator[list[Any]]:
    """Yield the ``items`` of each audit-log page, from offset 0 until an empty page.

    ``total`` is never consulted (the API says it may be approximate). A page that repeats the
    previous one item for item, or that says it starts elsewhere than asked, raises
    ``PaginationError`` instead of looping.
    """
    offset = 0
    previous: tuple[Any, ...] = ()
    while True:
        body = await fetch_page(offset, limit)
        if not isinstance(body, dict):
            raise DecodeError("expected an object with items", endpoint=endpoint)
        items = body.get("items")
        if not isinstance(items, list):
            raise DecodeError("expected an array", endpoint=endpoint, field="$.items")
        following = next_audit_offset(
            body.get("offset"), offset=offset, count=len(items), limit=limit, endpoint=endpoint
        )
        ids = _page_ids(items)
        if ids and ids == previous and all(isinstance(i, str) for i in ids):
            raise PaginationError(
                f"the page at offset {offset} repeats the previous page; stopping instead of "
                "looping forever",
                endpoint=endpoint,
                field="$.items",
            )
        previous = ids
        if items:
            yield items
        if following is None:
            return
        offset = following


def _check_total(
    meta: object, before: int | None, seen: int, *, last: bool, endpoint: str
) -> int | None:
    """The list's ``meta.total`` so far; raises when it moved or the items do not add up."""
    total = meta.get("total") if isinstance(meta, dict) else None
    if isinstance(total, bool) or not isinstance(total, int):
        return before
    if before is not None and total != before:
        raise ListingChangedError(
            f"the list changed while it was read: meta.total went from {before} to {total} "
            "between pages",
            endpoint=endpoint,
            field="$.meta.total",
        )
    if last and seen != total:
        raise ListingChangedError(
            f"the list changed while it was read: {seen} items arrived but meta.total is {total}",
            endpoint=endpoint,
            field="$.meta.total",
        )
    return total
