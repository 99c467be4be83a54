"""A model of getSavedClipsV2 paging, under every reading the API documentation leaves open.

Rhombus documents neither the page order, nor whether `pageTimestampMs` is an inclusive or an
exclusive bound, nor what `lastEvaluatedTimestampMs` holds. `saved_clips_page` answers one
request the way a server with the given `Paging` would; the fake Rhombus server and the
property tests both use it. Records are plain dicts as the API returns them; an odd record
(one whose `createdAtMs` is missing or null) carries a private `_filedAtMs`: where the server
files it, which the answer does not show.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

ORDERS = ("desc", "asc")
BOUNDS = ("inclusive", "exclusive")
# lastEvaluatedTimestampMs: the last record's time / never sent / the last record's time while
# there may be more and null on the last page (DynamoDB's LastEvaluatedKey style)
LAST_EVALUATED = ("last", "absent", "null-at-end")


@dataclass(frozen=True)
class Paging:
    """How a getSavedClipsV2 server pages."""

    order: Literal["desc", "asc"] = "desc"
    bound: Literal["inclusive", "exclusive"] = "inclusive"
    last_evaluated: Literal["last", "absent", "null-at-end"] = "last"
    cap: int = 100  # the most records a page holds, whatever maxPageSize asks for

    def __str__(self) -> str:
        return f"{self.order}-{self.bound}-{self.last_evaluated}"


PAGINGS = [
    Paging(order, bound, last)  # type: ignore[arg-type]
    for order, bound, last in itertools.product(ORDERS, BOUNDS, LAST_EVALUATED)
]


def filed_at(record: Any) -> int:
    """Where the server files a record in time: its createdAtMs, or its hidden `_filedAtMs`."""
    created = record.get("createdAtMs")
    if isinstance(created, int) and not isinstance(created, bool):
        return created
    return int(record["_filedAtMs"])


def served(record: Any) -> Any:
    """The record as the API shows it: without the model's private fields."""
    if not isinstance(record, Mapping):
        return record
    return {k: v for k, v in record.items() if not k.startswith("_")}


def feed_order(records: Sequence[Any], paging: Paging) -> list[Any]:
    """Every record in the order the server pages them; ties keep the order they were added."""
    sign = -1 if paging.order == "desc" else 1
    indexed = sorted(enumerate(records), key=lambda pair: (sign * filed_at(pair[1]), pair[0]))
    return [record for _, record in indexed]


def saved_clips_page(
    records: Sequence[Any], body: Mapping[str, Any], paging: Paging, ordered: bool = False
) -> dict[str, Any]:
    """The getSavedClipsV2 answer to `body` over `records` (`ordered`: already in feed order)."""
    size = min(int(body.get("maxPageSize") or 100), paging.cap, 100)
    at = body.get("pageTimestampMs")
    feed = records if ordered else feed_order(records, paging)
    chosen = [r for r in feed if at is None or _within(filed_at(r), at, paging)]
    page = chosen[:size]
    answer: dict[str, Any] = {"savedClips": [served(r) for r in page]}
    last = filed_at(page[-1]) if page else None
    if paging.last_evaluated == "last":
        answer["lastEvaluatedTimestampMs"] = last
    elif paging.last_evaluated == "null-at-end":
        answer["lastEvaluatedTimestampMs"] = last if len(chosen) > size else None
    return answer


def _within(filed: int, at: int, paging: Paging) -> bool:
    """Whether a record filed at `filed` is on the far side of the position `at`."""
    if paging.order == "desc":
        return filed <= at if paging.bound == "inclusive" else filed < at
    return filed >= at if paging.bound == "inclusive" else filed > at
