"""Reading a list page's filters and page from its URL, and writing links that keep them."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from api.pagination import MAX_PAGE, MAX_PAGE_SIZE

PAGE_SIZES = (20, 50, 100)


@dataclass(frozen=True)
class ListView:
    """A list's page, page size and filters as the URL gives them (bad values fall back)."""

    page: int
    page_size: int
    filters: dict[str, str]

    @classmethod
    def of(cls, page: str | None, page_size: str | None, **filters: str | None) -> ListView:
        return cls(
            page=_bounded(page, 1, 1, MAX_PAGE),
            page_size=_bounded(page_size, PAGE_SIZES[0], 1, MAX_PAGE_SIZE),
            filters={
                name: value.strip() for name, value in filters.items() if value and value.strip()
            },
        )

    def link(self, path: str, **changes: int | str | None) -> str:
        """``path`` with this view's query, changed by ``changes`` (None removes a key)."""
        query: dict[str, str | int] = {**self.filters}
        if self.page != 1:
            query["page"] = self.page
        if self.page_size != PAGE_SIZES[0]:
            query["page_size"] = self.page_size
        for name, value in changes.items():
            if value is None or value == "":
                query.pop(name, None)
            else:
                query[name] = value
        if query.get("page") == 1:
            query.pop("page")
        return f"{path}?{urlencode(query)}" if query else path


def _bounded(raw: str | None, default: int, low: int, high: int) -> int:
    try:
        value = int(raw) if raw else default
    except ValueError:
        return default
    return min(max(value, low), high)
