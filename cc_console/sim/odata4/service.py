"""The standard OData v4 service: service document, ``$metadata``, entity sets, ``$count``.

Server-driven paging as the Protocol describes it: a set has a maximum page size; a request
without ``$top``, or with a ``$top`` above it, gets that many entities and a next link —
relative to the context URL, carrying the request's other options and an opaque
``$skiptoken`` (base64, so it may hold ``+``, ``/`` and ``=``) — and an exactly full last
page is followed by a link to an empty page. Errors are OData JSON error bodies.
"""

from __future__ import annotations

import base64
import hashlib
import random
import re
from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from .model import NAMESPACE, SETS, EntitySetSpec, csdl, modified_stamp, record
from .query import ODataQueryError, compile_filter, compile_orderby, parse_query, select

__all__ = ["ODataService", "odata_error"]

JSON = "application/json;odata.metadata=minimal;odata.streaming=true;charset=utf-8"
HEADERS = {"OData-Version": "4.0"}


def odata_error(status: int, code: str, message: str) -> Response:
    """An OData JSON error body."""
    body = {"error": {"code": code, "message": message}}
    return Response(orjson.dumps(body), status_code=status, media_type=JSON, headers=HEADERS)


def _token(offset: int, signature: str) -> str:
    return base64.b64encode(orjson.dumps({"o": offset, "s": signature})).decode()


def _offset(token: str, signature: str) -> int:
    invalid = ODataQueryError("The skip token is not valid for this request.")
    try:
        data = orjson.loads(base64.b64decode(token, validate=True))
        offset = int(data["o"])
    except (ValueError, TypeError, KeyError, orjson.JSONDecodeError):
        raise invalid from None
    if data.get("s") != signature or offset < 0:
        raise invalid
    return offset


def _by(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda row: row[name]


def _count_value(text: str, name: str) -> int:
    if not text.isdigit():
        raise ODataQueryError(f"Invalid value '{text}' for {name}: a non-negative integer.")
    return int(text)


class ODataService:
    """The routes of one OData v4 service, over the simulator's seed and sizes."""

    def __init__(self, seed: int, sizes: dict[str, int]) -> None:
        self.seed, self.sizes = seed, sizes
        self._rows: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        self.epoch = 0  # part of every skiptoken: a new epoch expires the ones handed out
        self.reset_changes()

    def reset_changes(self) -> None:
        """Back to the generated data."""
        self._rows.clear()
        self.clock = 100_000  # modification slots after every generated one
        self.added: dict[str, int] = {}

    def change(
        self,
        set_name: str,
        *,
        update: int = 0,
        insert: int = 0,
        delete: int = 0,
        ids: list[int] | None = None,
        tie: bool = False,
    ) -> dict[str, Any]:
        """Update, insert and delete entities of a set with a ``LastModified`` now (one
        stamp for all with ``tie``); what changed. ``ids``: the first key values to update."""
        spec = SETS[set_name]
        if "LastModified" not in spec.properties:
            raise KeyError(f"{set_name} has no modification stamp to change")
        rows = self.entities(spec)
        name = spec.key[0]
        rng = random.Random(f"{self.seed}|change|{self.clock}")
        wanted = set(ids or ())
        chosen = (
            [r for r in rows if r[name] in wanted]
            if ids
            else rng.sample(rows, min(update, len(rows)))
        )
        stamp = None
        if tie:
            self.clock += 1
            stamp = modified_stamp(self.clock)
        stamps = []

        def now() -> str:
            if stamp is not None:
                return stamp
            self.clock += 1
            return modified_stamp(self.clock)

        for row in chosen:
            row["LastModified"] = now()
            stamps.append(row["LastModified"])
        added = []
        for _ in range(insert):
            index = self.sizes.get(set_name, 0) + self.added.get(set_name, 0)
            self.added[set_name] = self.added.get(set_name, 0) + 1
            entity = record(self.seed, set_name, index, self.sizes)
            entity["LastModified"] = now()
            rows.append(entity)
            added.append(entity[name])
        gone = []
        for _ in range(min(delete, len(rows) - 1)):
            gone.append(rows.pop(rng.randrange(len(rows)))[name])
        return {
            "stamp": stamp or (self.clock and modified_stamp(self.clock)),
            "updated": sorted(r[name] for r in chosen),
            "inserted": added,
            "deleted": sorted(gone),
        }

    def expire_tokens(self) -> None:
        """Skiptokens handed out so far are refused from now on (400), as a server's expire."""
        self.epoch += 1

    def entities(self, spec: EntitySetSpec) -> list[dict[str, Any]]:
        key = (spec.name, "", "")
        if key not in self._rows:
            size = self.sizes.get(spec.name, 0)
            self._rows[key] = [record(self.seed, spec.name, i, self.sizes) for i in range(size)]
        return self._rows[key]

    async def service_document(self, request: Request) -> Response:
        value = [{"name": n, "kind": "EntitySet", "url": n} for n in SETS]
        body = {"@odata.context": "$metadata", "value": value}
        return Response(orjson.dumps(body), media_type=JSON, headers=HEADERS)

    async def metadata(self, request: Request) -> Response:
        return Response(csdl(), media_type="application/xml", headers=HEADERS)

    def _set(self, request: Request) -> EntitySetSpec | None:
        return SETS.get(request.path_params.get("entity_set", ""))

    def _matching(
        self, spec: EntitySetSpec, options: dict[str, str]
    ) -> tuple[list[dict[str, Any]], str]:
        """The set's entities that pass ``$filter``, in ``$orderby`` then key order."""
        properties = {name: edm for name, (edm, _) in spec.properties.items()}
        type_name = f"{NAMESPACE}.{spec.type_name}"
        rows = self.entities(spec)
        if "$filter" in options:
            predicate = compile_filter(options["$filter"], properties, type_name)
            rows = [r for r in rows if predicate(r)]
        order = compile_orderby(
            options.get("$orderby") or ",".join(spec.key), properties, type_name
        )
        for name, descending in reversed(order):  # stable sorts, last key first
            present = [r for r in rows if r.get(name) is not None]
            absent = [r for r in rows if r.get(name) is None]  # nulls sort first, as SQL Server's
            present.sort(key=_by(name), reverse=descending)
            rows = absent + present if not descending else present + absent
        signature = hashlib.sha256(
            f"{self.epoch}|{options.get('$filter', '')}|{options.get('$orderby', '')}".encode()
        ).hexdigest()[:12]
        return rows, signature

    async def count(self, request: Request) -> Response:
        spec = self._set(request)
        if spec is None:
            return self._not_found(request)
        try:
            rows, _ = self._matching(spec, parse_query(request.url.query))
        except ODataQueryError as exc:
            return odata_error(400, "BadRequest", str(exc))
        return PlainTextResponse(str(len(rows)), headers=HEADERS)

    def _entity(self, spec: EntitySetSpec, inside: str) -> Response:
        """``Set(key)``: one entity by its key — a literal, or ``Name=literal,…`` (composite);
        404 when there is none."""
        try:
            wanted = _key_values(spec, inside)
        except (ValueError, KeyError):
            return odata_error(
                400, "BadRequest", f"The key '{inside}' is not valid for {spec.name}."
            )
        for row in self.entities(spec):
            if all(row.get(name) == value for name, value in wanted.items()):
                body = {"@odata.context": f"$metadata#{spec.name}/$entity", **row}
                return Response(orjson.dumps(body), media_type=JSON, headers=HEADERS)
        return odata_error(404, "NotFound", f"No {spec.type_name} with key ({inside}).")

    def _not_found(self, request: Request) -> Response:
        segment = request.path_params.get("entity_set", "")
        return odata_error(404, "NotFound", f"Resource not found for the segment '{segment}'.")

    async def collection(self, request: Request) -> Response:
        segment = request.path_params.get("entity_set", "")
        if (by_key := _KEY_SEGMENT.match(segment)) is not None and by_key[1] in SETS:
            return self._entity(SETS[by_key[1]], by_key[2])
        spec = self._set(request)
        if spec is None:
            return self._not_found(request)
        try:
            return self._page(spec, parse_query(request.url.query))
        except ODataQueryError as exc:
            return odata_error(400, "BadRequest", str(exc))

    def _page(self, spec: EntitySetSpec, options: dict[str, str]) -> Response:
        rows, signature = self._matching(spec, options)
        top = _count_value(options["$top"], "$top") if "$top" in options else None
        skip = _count_value(options.get("$skip", "0"), "$skip")
        counted = options.get("$count", "false").lower()
        if counted not in ("true", "false"):
            raise ODataQueryError(f"Invalid value '{options['$count']}' for $count.")
        start = _offset(options["$skiptoken"], signature) if "$skiptoken" in options else skip
        limit = spec.max_page_size
        take = limit if top is None else min(top, limit)
        page = rows[start : start + take]
        if "$select" in options:
            properties = {name: edm for name, (edm, _) in spec.properties.items()}
            names = select(options["$select"], properties, f"{NAMESPACE}.{spec.type_name}")
            page = [{n: r.get(n) for n in names} for r in page]
        body: dict[str, Any] = {"@odata.context": f"$metadata#{spec.name}"}
        if counted == "true":
            body["@odata.count"] = len(rows)
        body["value"] = page
        server_limited = len(page) == limit and (top is None or top > limit)
        if server_limited:  # the service cut the page: the client follows the link
            body["@odata.nextLink"] = self._next_link(spec, options, top, start + take, signature)
        return Response(orjson.dumps(body), media_type=JSON, headers=HEADERS)

    def _next_link(
        self,
        spec: EntitySetSpec,
        options: dict[str, str],
        top: int | None,
        offset: int,
        signature: str,
    ) -> str:
        from urllib.parse import quote

        kept = {k: v for k, v in options.items() if k not in ("$skip", "$skiptoken", "$top")}
        if top is not None:
            kept["$top"] = str(top - spec.max_page_size)
        parts = [f"{name}={quote(value, safe=_SAFE)}" for name, value in kept.items()]
        parts.append(f"$skiptoken={_token(offset, signature)}")  # as it is: + / = included
        return f"{spec.name}?{'&'.join(parts)}"


_SAFE = "$'(),/:-._~*"
_KEY_SEGMENT = re.compile(r"^(\w+)\((.+)\)$")


def _literal(text: str) -> Any:
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    return int(text)


def _key_values(spec: EntitySetSpec, inside: str) -> dict[str, Any]:
    """The key predicate of ``Set(...)`` by the key's property names."""
    if len(spec.key) == 1 and "=" not in inside:
        return {spec.key[0]: _literal(inside)}
    pairs = dict(part.split("=", 1) for part in inside.split(","))
    if set(pairs) != set(spec.key):
        raise KeyError(inside)
    return {name: _literal(value) for name, value in pairs.items()}
