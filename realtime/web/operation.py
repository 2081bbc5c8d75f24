"""One row of the OpenAPI table: an endpoint, what it takes and what it answers (`openapi`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ID_MAX = 2**63 - 1  # SQLite's INTEGER
# Every endpoint that reads a JSON body can answer these.
BODY_ERRORS = (400, 413, 415, 422)


@dataclass(frozen=True, kw_only=True)
class Operation:
    name: str
    method: str
    path: str
    summary: str
    response: type[Any] | None
    ok: tuple[int, ...] = (200,)
    body: type[Any] | None = None
    parameters: tuple[str, ...] = ()
    errors: tuple[int, ...] = ()
    auth: bool = False
    # Other shapes the success may have (e.g. a sorted page of threads): `anyOf` all of them.
    alternatives: tuple[type[Any], ...] = ()
    # The success answer is not JSON but this media type (a page, a feed).
    media: str | None = None
