"""The simulated tables: live ids per resource (with inserts and deletes) and paged queries."""

from __future__ import annotations

import bisect
import random
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from .data import _EPOCH, RecordFactory
from .query import QueryError

__all__ = ["Dataset", "Page"]

Record = dict[str, Any]


@dataclass
class _Table:
    base: int
    extra: int = 0
    deleted: list[int] = field(default_factory=list)  # sorted
    updated: dict[int, str] = field(default_factory=dict)  # id -> its new lastUpdatedOn
    version: int = 0

    @property
    def live(self) -> int:
        return self.base + self.extra - len(self.deleted)

    def nth_id(self, n: int) -> int:
        """The id of the n-th (0-based) live record in id order."""
        candidate = n + 1
        while True:
            shifted = n + 1 + bisect.bisect_right(self.deleted, candidate)
            if shifted == candidate:
                return candidate
            candidate = shifted

    def ids(self) -> list[int]:
        gone = set(self.deleted)
        return [i for i in range(1, self.base + self.extra + 1) if i not in gone]


@dataclass
class Page:
    """One page of records and what the envelope needs to know."""

    ids: list[int]
    total: int
    more: bool


class Dataset:
    """Answers paged, filtered, ordered queries over lazily generated records."""

    def __init__(self, factory: RecordFactory, seed: int) -> None:
        self.factory = factory
        self.seed = seed
        self.reset()

    def reset(self) -> None:
        """Undo every mutation and forget cached query results."""
        self.tables = {name: _Table(size) for name, size in self.factory.sizes.items()}
        self._matches: OrderedDict[tuple[Any, ...], list[int]] = OrderedDict()
        self._seek_keys: dict[tuple[Any, ...], list[tuple[bool, Any]]] = {}
        self.mutation_rng = random.Random(self.seed + 2)
        self.inserted = 0
        self.deleted = 0
        self.updated = 0
        # updates happen "now": after every generated timestamp, a minute apart
        self.clock = _EPOCH + timedelta(days=1300)
        self.changes: list[dict[str, Any]] = []  # what changed when, for /__sim/stats

    def _stamp(self) -> str:
        self.clock += timedelta(minutes=1)
        return self.clock.isoformat()

    def log_change(self, resource: str, stamp: str | None, **ids: list[Any]) -> dict[str, Any]:
        entry = {"seq": len(self.changes) + 1, "resource": resource, "stamp": stamp, **ids}
        self.changes.append(entry)
        del self.changes[:-200]  # the newest 200 are enough to say what changed when
        return entry

    def change(
        self,
        resource: str,
        *,
        update: int = 0,
        insert: int = 0,
        delete: int = 0,
        ids: list[int] | None = None,
        tie: bool = False,
    ) -> dict[str, Any]:
        """Change records now: update ``update`` random live ones (or exactly ``ids``),
        insert and delete some. Updated and inserted records get a new ``lastUpdatedOn`` —
        one stamp for all of them with ``tie``, else a minute apart."""
        table = self.tables[resource]
        chosen = list(ids or [])
        if not chosen and update:
            picks = self.mutation_rng.sample(range(table.live), min(update, table.live))
            chosen = sorted(table.nth_id(n) for n in picks)
        one = self._stamp() if tie else None
        stamps: dict[int, str] = {}
        for ident in chosen:
            stamps[ident] = table.updated[ident] = one or self._stamp()
        added = []
        for _ in range(insert):
            table.extra += 1
            added.append(table.base + table.extra)
            stamps[added[-1]] = table.updated[added[-1]] = one or self._stamp()
        gone = []
        for _ in range(min(delete, table.live - 1)):
            victim = table.nth_id(self.mutation_rng.randrange(table.live))
            bisect.insort(table.deleted, victim)
            gone.append(victim)
        self.updated += len(chosen)
        self.inserted += len(added)
        self.deleted += len(gone)
        table.version += 1
        last = max(stamps.values()) if stamps else None
        return self.log_change(resource, last, updated=chosen, inserted=added, deleted=gone)

    def schema(self, resource: str) -> Record:
        """A sample record: the shape filters and selects are checked against."""
        return self.factory.record(resource, 1)

    def get(self, resource: str, ident: int) -> Record | None:
        """One live record by id."""
        table = self.tables[resource]
        if ident < 1 or ident > table.base + table.extra:
            return None
        index = bisect.bisect_left(table.deleted, ident)
        if index < len(table.deleted) and table.deleted[index] == ident:
            return None
        return self.record(resource, ident)

    def mutate(self, resource: str) -> None:
        """Insert a new record, delete a live one, or update one (between two requests); an
        update moves the record's ``lastUpdatedOn`` forward where it has one."""
        table = self.tables[resource]
        roll = self.mutation_rng.random()
        if roll < 0.4 or table.live <= 1:
            table.extra += 1
            table.updated[table.base + table.extra] = stamp = self._stamp()
            self.inserted += 1
            self.log_change(resource, stamp, inserted=[table.base + table.extra])
        elif roll < 0.8:
            victim = table.nth_id(self.mutation_rng.randrange(table.live))
            bisect.insort(table.deleted, victim)
            self.deleted += 1
            self.log_change(resource, None, deleted=[victim])
        else:
            target = table.nth_id(self.mutation_rng.randrange(table.live))
            table.updated[target] = stamp = self._stamp()
            self.updated += 1
            self.log_change(resource, stamp, updated=[target])
        table.version += 1

    def record(self, resource: str, ident: int) -> Record:
        """Record ``ident`` as it is now: updates applied."""
        record = self.factory.record(resource, ident)
        stamp = self.tables[resource].updated.get(ident) if resource in self.tables else None
        if stamp is None or "lastUpdatedOn" not in record:
            return record
        return {**record, "lastUpdatedOn": stamp}

    def is_updated(self, resource: str, ident: int) -> bool:
        return ident in self.tables[resource].updated

    def query(
        self,
        resource: str,
        *,
        skip: int,
        top: int,
        predicate: Callable[[Record], bool] | None = None,
        predicate_key: str = "",
        order: list[tuple[Callable[[Record], Any], bool]] | None = None,
        order_key: str = "",
        seek: tuple[Callable[[Record], Any], Any] | None = None,
        need_total: bool = True,
    ) -> Page:
        """Records ``skip .. skip+top`` of the filtered, ordered resource. ``seek``: the typed
        getter of the first (ascending) order property and a lower bound the filter implies
        for it — rows below it cannot match, so the scan starts at the bound, as an index seek
        would; without ``need_total`` it stops once the page is full (``total`` is then -1)."""
        table = self.tables[resource]
        if seek is not None and order and predicate is not None:
            return self._seek(
                resource, table, skip, top, predicate, order, order_key, seek, need_total
            )
        if predicate is None and not order:
            total = table.live
            end = min(total, skip + top)
            ids = [table.nth_id(n) for n in range(skip, end)] if skip < total else []
            return Page(ids, total, end < total)
        ids = self._matching(resource, table, predicate, predicate_key, order, order_key)
        chosen = ids[skip : skip + top]
        return Page(chosen, len(ids), skip + top < len(ids))

    def _seek(
        self,
        resource: str,
        table: _Table,
        skip: int,
        top: int,
        predicate: Callable[[Record], bool],
        order: list[tuple[Callable[[Record], Any], bool]],
        order_key: str,
        seek: tuple[Callable[[Record], Any], Any],
        need_total: bool,
    ) -> Page:
        ids = self._matching(resource, table, None, "", order, order_key)
        typed, bound = seek
        cache = (resource, table.version, order_key)
        keys = self._seek_keys.get(cache)
        if keys is None:
            values = [typed(self.record(resource, i)) for i in ids]
            keys = [(v is not None, v if v is not None else 0) for v in values]
            if len(self._seek_keys) >= 4:
                self._seek_keys.clear()
            self._seek_keys[cache] = keys
        # nulls sort first: the null prefix when nulls may match, then from the lowest value
        nulls_end = bisect.bisect_left(keys, (True,))
        ranges = [range(0, nulls_end)] if bound.nulls else []
        if bound.low is not None:
            ranges.append(range(bisect.bisect_left(keys, (True, bound.low)), len(ids)))
        limit = None if need_total else skip + top + 1
        matched: list[int] = []
        for span in ranges:
            for at in span:
                if predicate(self.record(resource, ids[at])):
                    matched.append(ids[at])
                    if limit is not None and len(matched) >= limit:
                        break
            if limit is not None and len(matched) >= limit:
                break
        total = len(matched) if need_total else -1
        return Page(matched[skip : skip + top], total, len(matched) > skip + top)

    def _matching(
        self,
        resource: str,
        table: _Table,
        predicate: Callable[[Record], bool] | None,
        predicate_key: str,
        order: list[tuple[Callable[[Record], Any], bool]] | None,
        order_key: str,
    ) -> list[int]:
        key = (resource, table.version, predicate_key, order_key)
        cached = self._matches.get(key)
        if cached is not None:
            self._matches.move_to_end(key)
            return cached
        record = self.record
        ids = [i for i in table.ids() if predicate is None or predicate(record(resource, i))]
        for getter, descending in reversed(order or []):
            try:
                ids.sort(key=lambda i: _sort_key(getter(record(resource, i))), reverse=descending)
            except TypeError:
                raise QueryError("The $orderby property cannot be compared.") from None
        self._matches[key] = ids
        if len(self._matches) > 32:
            self._matches.popitem(last=False)
        return ids


def _sort_key(value: Any) -> tuple[bool, Any]:
    # nulls sort first ascending, as on SQL Server
    if isinstance(value, (dict, list)):
        raise TypeError("not orderable")
    return (value is not None, value if value is not None else 0)
