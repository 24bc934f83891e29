"""``page`` / ``page_size`` query parameters and the paginated list shape."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

import msgspec
from litestar.params import Parameter

from api.errors import validation_error

T = TypeVar("T")

MAX_PAGE_SIZE = 100
MAX_PAGE = 10_000_000

# The bounds are checked by ``PageRequest.of`` (its 422 names the parameter);
# the schema only states them.
PageNumber = Annotated[
    int, Parameter(description="Page, from 1", schema_extra={"minimum": 1, "maximum": MAX_PAGE})
]
PageSize = Annotated[
    int,
    Parameter(description="Items per page", schema_extra={"minimum": 1, "maximum": MAX_PAGE_SIZE}),
]


@dataclass(frozen=True)
class PageRequest:
    page: int
    page_size: int

    @classmethod
    def of(cls, page: int, page_size: int) -> PageRequest:
        if not 1 <= page <= MAX_PAGE:
            raise validation_error("page", f"must be between 1 and {MAX_PAGE}")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise validation_error("page_size", f"must be between 1 and {MAX_PAGE_SIZE}")
        return cls(page, page_size)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


class Page(msgspec.Struct, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int
    total_pages: int


def page_of(items: list[T], total: int, request: PageRequest) -> Page[T]:
    return Page(
        items=items,
        total=total,
        page=request.page,
        page_size=request.page_size,
        total_pages=math.ceil(total / request.page_size) if total else 0,
    )
