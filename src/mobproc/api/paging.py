"""Collections page with ``limit`` and ``offset`` (the index of the first item), and answer the
documentation's ``_meta`` block: ``href`` (this page), ``totalCount``, and ``hrefStart``,
``hrefPrevious``, ``hrefNext``, ``hrefEnd``, "each returned only when the link resolves to a
page other than the current page"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Query, Request

DEFAULT_LIMIT = 10
MAX_LIMIT = 500


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


def page(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1, description="index of the first item")] = 0,
) -> Page:
    return Page(limit, offset)


def page_meta(request: Request, page: Page, total: int) -> dict[str, Any]:
    """The pagination block of one page of ``total`` items; the other pages' links keep the
    call's other query parameters (its filters)."""
    kept = [(name, value) for name, value in request.query_params.multi_items() if name not in ("limit", "offset")]

    def link(offset: int) -> str:
        query = "&".join(f"{name}={value}" for name, value in
                         [*_quoted(kept), ("offset", str(offset)), ("limit", str(page.limit))])
        return str(request.url.replace(query=query))

    meta: dict[str, Any] = {"href": str(request.url), "limit": page.limit, "offset": page.offset, "totalCount": total}
    last = (total - 1) // page.limit * page.limit if total else 0
    if page.offset != 0:
        meta["hrefStart"] = link(0)
        meta["hrefPrevious"] = link(max(0, page.offset - page.limit))
    if page.offset + page.limit < total:
        meta["hrefNext"] = link(page.offset + page.limit)
    if last != page.offset:
        meta["hrefEnd"] = link(last)
    return meta


def _quoted(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(quote(name, safe=""), quote(value, safe="")) for name, value in pairs]
