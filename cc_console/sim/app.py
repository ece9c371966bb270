"""The simulated Clinical Conductor API as an ASGI app (Starlette)."""

from __future__ import annotations

import asyncio
import math
from collections import Counter, defaultdict
from collections.abc import Callable
from email.utils import formatdate
from time import time
from typing import Any
from urllib.parse import quote, urlencode

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .changes import SimChange
from .config import SimConfig
from .data import RESOURCES, RecordFactory
from .dataset import Dataset
from .envelopes import (
    envelope_kind,
    page_bytes,
    served_stamps,
    shape_record,
    timestamp_shape,
)
from .faults import (
    FaultInjector,
    cut_off_body,
    drift_record,
    drop_connection,
    error_body,
    html_response,
    malform,
)
from .odata4 import ODataService, odata_error
from .query import (
    QueryError,
    compile_filter_seek,
    compile_orderby,
    compile_select,
    edm_types,
)
from .ratelimit import RateLimiter

__all__ = ["Simulator", "create_app"]

JSON = "application/json; charset=utf-8"
ODATA4_ROOT = "/odata/v4/sales"  # the standard OData v4 service's root
# resources a study scopes: ?studyId= and /studies/{id}/<resource>/odata [C]
STUDY_SCOPED = ("subjects", "visits", "elements")
TYPE_NAMES = {
    "sites": "SiteViewModel",
    "studies": "StudyViewModel",
    "patients": "PatientViewModel",
    "subjects": "SubjectViewModel",
    "visits": "VisitViewModel",
    "patient-visits": "PatientVisitViewModel",
    "elements": "ElementViewModel",
    "site-payments": "SitePaymentViewModel",
}
KNOWN_OPTIONS = {"$top", "$skip", "$count", "$orderby", "$filter", "$select", "$skiptoken"}
FOREIGN_HOST = "https://cc-mirror.example.invalid"
EDITION_MESSAGE = "Not Implemented - Site payments are only available for CCE instances"


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=JSON, headers=headers)


def _bad_request(message: str) -> Response:
    return _json(error_body("InvalidQuery", message), 400)


# 400 bodies per endpoint in the vendor's mix (the reference: an array on 67 operations, a
# single object on 6, none on the rest; which operation has which is not documented [I])
_VENDOR_400 = {
    "studies": "array",
    "patients": "array",
    "sites": "array",
    "subjects": "array",
    "visits": "object",
    "elements": "none",
    "patient-visits": "message",
    "site-payments": "array",
}


def vendor_bad_request(resource: str, message: str) -> Response:
    """A 400 in the body the vendor gives this endpoint."""
    shape = _VENDOR_400.get(resource, "array")
    if shape == "object":
        return _json(error_body("InvalidQuery", message)[0], 400)
    if shape == "message":
        return _json({"Message": message}, 400)  # ASP.NET's own
    if shape == "none":
        return Response(b"", status_code=400)
    return _bad_request(message)


class Simulator:
    """State of one simulated server: data, buckets, fault streams and counters."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.factory = RecordFactory(config.seed, config.sizes)
        self.dataset = Dataset(self.factory, config.seed)
        self.limiter = RateLimiter(config.rate_limit)
        self.injector = FaultInjector(config)
        self._edm: dict[str, dict[str, str]] = {}
        self.reset()

    def reset(self) -> None:
        """Restart counters, buckets, fault streams and data mutations."""
        self.by_endpoint: dict[str, Counter[str]] = defaultdict(Counter)
        self.faults: Counter[str] = Counter()
        self.rate_limited = 0
        self.api_requests = 0
        self.records_served = 0
        self.limiter.reset()
        self.injector.reset()
        self.dataset.reset()

    def stats(self) -> dict[str, Any]:
        """What the server saw, for tests and benchmarks to compare with the client's logs."""
        return {
            "seed": self.config.seed,
            "profile": self.config.profile,
            "requests_total": sum(sum(c.values()) for c in self.by_endpoint.values()),
            "api_requests": self.api_requests,
            "by_endpoint": {e: dict(c) for e, c in sorted(self.by_endpoint.items())},
            "rate_limited": self.rate_limited,
            "faults": dict(self.faults),
            "records_served": self.records_served,
            "drift_active": self._drifting(),
            "mutations": {
                "inserted": self.dataset.inserted,
                "deleted": self.dataset.deleted,
                "updated": self.dataset.updated,
            },
            "changes": self.dataset.changes,
        }

    def _drifting(self) -> bool:
        after = self.config.drift_after
        return after is not None and self.api_requests > after

    def _count(self, endpoint: str, response: Any) -> Any:
        status = getattr(response, "status_code", 200)
        self.by_endpoint[endpoint][str(status)] += 1
        return response

    def _rate_headers(self, decision: Any) -> dict[str, str]:
        policy = self.config.rate_limit
        headers: dict[str, str] = {}
        if policy.x_ratelimit_headers:
            headers["X-RateLimit-Limit"] = str(decision.limit)
            headers["X-RateLimit-Remaining"] = str(decision.remaining)
            headers["X-RateLimit-Reset"] = str(math.ceil(time() + decision.reset_s))
        if policy.ietf_headers:
            headers["RateLimit"] = (
                f"limit={decision.limit}, remaining={decision.remaining}, "
                f"reset={math.ceil(decision.reset_s)}"
            )
            headers["RateLimit-Policy"] = decision.policy
        return headers

    def route(self, handler: Any, odata: bool = False, resource: str | None = None) -> Any:
        """Wrap a route handler in the common pipeline (``odata``: OData JSON error bodies;
        ``resource``: the resource a fixed route serves, e.g. a study's visits)."""

        async def endpoint(request: Request) -> Any:
            if resource is not None:
                request.scope["path_params"] = {**request.path_params, "resource": resource}
            return await self.api(request, handler, odata)

        return endpoint

    async def api(self, request: Request, handler: Any, odata: bool = False) -> Any:
        """Every API request: auth, rate limit, fault, then the route itself."""
        route = request.scope.get("route")
        endpoint = route.path if route is not None else request.url.path
        endpoint = endpoint.replace("{resource}", request.path_params.get("resource", ""))
        endpoint = endpoint.replace("{entity_set}", request.path_params.get("entity_set", ""))
        if request.headers.get(self.config.auth_header) != self.config.api_key:
            if odata:
                denied_odata = odata_error(401, "Unauthorized", "The API key is missing or wrong.")
                return self._count(endpoint, denied_odata)
            denied = {"Message": "Authorization has been denied for this request."}
            return self._count(endpoint, _json(denied, 401))
        headers: dict[str, str] = {}
        if self.config.rate_limit.enabled:
            decision = self.limiter.check(self.config.api_key, endpoint)
            headers = self._rate_headers(decision)
            if not decision.allowed:
                self.rate_limited += 1
                wait = max(1, math.ceil(decision.retry_after_s))
                headers["Retry-After"] = self._retry_after(wait)
                if decision.scope != "global":  # an endpoint's own bucket ran dry: say so
                    headers["X-RateLimit-Scope"] = "endpoint"
                message = f"Rate limit exceeded. Retry after {wait} seconds."
                if odata:
                    limited = odata_error(429, "TooManyRequests", message)
                    limited.headers.update(headers)
                    return self._count(endpoint, limited)
                body = error_body("TooManyRequests", message)
                return self._count(endpoint, _json(body, 429, headers))
        self.api_requests += 1
        fault = self.injector.draw()
        if fault:
            self.faults[fault] += 1
        resource = request.path_params.get("resource", "")
        mutating = self.config.mutate_rate and resource in self.dataset.tables
        if mutating and self.injector.latency_rng.random() < self.config.mutate_rate:
            self.dataset.mutate(resource)
        skip_text = request.query_params.get("$skip", "0")
        skip_hint = int(skip_text) if skip_text.isdigit() else 0
        delay = self.injector.latency_s(endpoint, skip_hint)
        if fault == "stall":
            delay += self.config.stall_seconds
        if delay:
            await asyncio.sleep(delay)
        early = (
            self._status_fault(fault, odata)
            or self._redirect_fault(fault, request)
            or self._echo_fault(fault, request)
        )
        if early is not None:
            return self._count(endpoint, early)
        request.state.fault = fault
        response = await handler(request)
        return self._count(endpoint, self._body_fault(fault, response, headers))

    def _types(self, resource: str) -> dict[str, str]:
        """The Edm types of a resource's properties, read once off its first records."""
        if resource not in self._edm:
            samples = [self.factory.record(resource, i) for i in range(1, 21)]
            self._edm[resource] = edm_types(samples)
        return self._edm[resource]

    def _retry_after(self, seconds: int) -> str:
        """Delta-seconds, or an HTTP-date when the simulator is told to send dates."""
        if self.config.rate_limit.retry_after_date:
            return formatdate(time() + seconds, usegmt=True)
        return str(seconds)

    def _status_fault(self, fault: str | None, odata: bool = False) -> Response | None:
        if fault == "error_500":
            if odata:
                return odata_error(500, "InternalServerError", "An error has occurred.")
            if self.config.error_shapes == "vendor":
                return Response(b"", status_code=500)  # the vendor documents no body
            return _json(error_body("ServerError", "Server Error - Contact support"), 500)
        if fault == "error_502":
            return Response(b"", status_code=502)
        if fault == "error_503":
            return Response(b"", status_code=503, headers={"Retry-After": self._retry_after(1)})
        if fault == "error_503_bare":
            return Response(b"", status_code=503)
        if fault == "error_504":
            return Response(b"", status_code=504)
        if fault == "html":
            return html_response()
        return None

    def _echo_fault(self, fault: str | None, request: Request) -> Response | None:
        """A careless server: the key it got comes back raw, URL-encoded and JSON-escaped."""
        if fault != "echo_key":
            return None
        key = request.headers.get(self.config.auth_header, "")
        body = {
            "Message": f"An error has occurred for key {key}.",
            "ExceptionMessage": f"GET {request.url.path}?apikey={quote(key, safe='')}",
            "StackTrace": repr(key),
        }
        return _json(body, 500, {"X-Debug-Key": key, "Link": f"</retry?k={quote(key)}>"})

    def _redirect_fault(self, fault: str | None, request: Request) -> Response | None:
        """A gateway's redirect: to the same URL on this server, or to another host."""
        if fault == "redirect":
            return Response(b"", status_code=307, headers={"Location": str(request.url)})
        if fault == "foreign_redirect":
            target = f"{FOREIGN_HOST}{request.url.path}?{request.url.query}"
            return Response(b"", status_code=307, headers={"Location": target})
        return None

    def _body_fault(self, fault: str | None, response: Response, headers: dict[str, str]) -> Any:
        response.headers.update(headers)
        if response.status_code != 200 or fault is None:
            return response
        body = bytes(response.body)
        if fault == "truncated":
            cut = cut_off_body(body)
            cut.status_code = 200
            return cut
        if fault == "malformed":
            return Response(malform(body), media_type=JSON, headers=headers)
        if fault == "wrong_content_type":
            return Response(body, media_type="text/plain; charset=utf-8", headers=headers)
        if fault == "reset":
            dropped = drop_connection()
            dropped.status_code = 0  # no answer: the connection goes before one
            return dropped
        return response

    def _not_implemented(self) -> Response:
        if self.config.error_shapes == "vendor":
            return Response(b"", status_code=501)  # the vendor documents no body
        return _json(error_body("NotImplemented", EDITION_MESSAGE), 501)

    async def list_resource(self, request: Request) -> Response:
        """``GET /api/v1/{resource}/odata`` (and the nested study-scoped forms)."""
        response = await self._list(request)
        if response.status_code == 400 and self.config.error_shapes == "vendor":
            message = orjson.loads(response.body)[0]["message"]
            return vendor_bad_request(request.path_params.get("resource", ""), message)
        return response

    async def _list(self, request: Request) -> Response:
        resource = request.path_params.get("resource", "subjects")
        if resource not in RESOURCES:
            return Response(b"", status_code=404)
        if resource == "site-payments" and self.config.instance_type != "CCE":
            return self._not_implemented()
        params = request.query_params
        unknown = [k for k in params if k.startswith("$") and k not in KNOWN_OPTIONS]
        if unknown:
            return _bad_request(f"The query parameter '{unknown[0]}' is not supported.")
        try:
            top, skip = self._paging(params)
        except QueryError as exc:
            return _bad_request(str(exc))
        pageresult = envelope_kind(self.config, resource) == "pageresult"
        if "$select" in params and pageresult and self.config.select_on_pageresult == "reject":
            return _bad_request(
                "The query specified in the URI is not valid. $select is not supported on"
                " this endpoint."
            )
        schema = self.dataset.schema(resource)
        type_name = TYPE_NAMES[resource]
        filters: list[tuple[str, Callable[[dict[str, Any]], bool]]] = []
        study_id = request.path_params.get("study_id")
        if study_id is None and resource in STUDY_SCOPED and "studyId" in params:
            study_id = int(params["studyId"]) if params["studyId"].isdigit() else -1
        if study_id is not None:
            if self.dataset.get("studies", int(study_id)) is None:
                return Response(b"", status_code=404)
            wanted = int(study_id)
            filters.append((f"study:{study_id}", lambda r: bool(r["study"]["id"] == wanted)))
        try:
            seek = None
            if "$filter" in params:
                predicate, seek = compile_filter_seek(
                    params["$filter"], self._types(resource), type_name, params.get("$orderby")
                )
                if timestamp_shape(self.config) != "minutes":
                    # it compares the stamps as served; the seek's order is the raw one
                    config, compare, seek = self.config, predicate, None
                    predicate = lambda r: compare(served_stamps(r, config))  # noqa: E731
                filters.append((params["$filter"], predicate))
            order = (
                compile_orderby(params["$orderby"], schema, type_name)
                if params.get("$orderby")
                else None
            )
            select = (
                compile_select(params["$select"], schema, type_name)
                if params.get("$select")
                else []
            )
            combined = None
            if filters:
                preds = [p for _, p in filters]
                combined = lambda r: all(p(r) for p in preds)  # noqa: E731
            page_size = min(top, self.config.server_page_size or top)
            page = self.dataset.query(
                resource,
                skip=skip,
                top=page_size,
                predicate=combined,
                predicate_key="|".join(k for k, _ in filters),
                order=order,
                order_key=params.get("$orderby", ""),
                seek=seek,
                need_total=params.get("$count", "").lower() == "true",
            )
        except QueryError as exc:
            return _bad_request(str(exc))
        drift = self.config.drift_kind if self._drifting() else None
        records: list[dict[str, Any]] | list[bytes]
        updated = any(self.dataset.is_updated(resource, i) for i in page.ids)
        plain = self.config.casing == "camel" and timestamp_shape(self.config) == "minutes"
        if select or drift or not plain or updated:
            records = [
                shape_record(drift_record(r, drift) if drift else r, self.config, select)
                for r in (self.dataset.record(resource, i) for i in page.ids)
            ]
        else:  # records served as they are: splice their cached JSON
            records = [self.factory.record_json(resource, i) for i in page.ids]
        self.records_served += len(records)
        kind = envelope_kind(self.config, resource)
        count = page.total if params.get("$count", "").lower() == "true" else None
        next_link = self._next_link(request, skip, top, len(records), page.more)
        context = f"{request.base_url}api/v1/$metadata#{resource}"
        served = page_bytes(
            kind, self.config, records, count=count, next_link=next_link, context=context
        )
        return Response(served, media_type=JSON)

    def _paging(self, params: Any) -> tuple[int, int]:
        top_text, skip_text = params.get("$top"), params.get("$skip", "0")
        if "$skiptoken" in params:
            token = params["$skiptoken"]
            if not token.startswith("o") or not token[1:].isdigit():
                raise QueryError(f"The skip token '{token}' is not valid.")
            skip_text = token[1:]
        if top_text is not None and not top_text.lstrip("-").isdigit():
            raise QueryError(f"Invalid value '{top_text}' for $top query option found.")
        if not skip_text.lstrip("-").isdigit() or int(skip_text) < 0:
            raise QueryError(f"Invalid value '{skip_text}' for $skip query option found.")
        top = 50 if top_text is None else int(top_text)
        if top < 0:
            raise QueryError(f"Invalid value '{top_text}' for $top query option found.")
        if top > 1000:
            if self.config.top_overflow == "reject":
                raise QueryError(
                    "The limit of '1000' for Top query has been exceeded. "
                    f"The value from the incoming request is '{top}'."
                )
            top = 1000
        return top, int(skip_text)

    def _next_link(
        self, request: Request, skip: int, top: int, served: int, more: bool
    ) -> str | None:
        fault = getattr(request.state, "fault", None)
        fault_link = fault == "foreign_next_link"
        if fault == "next_link_loop":  # the page links to itself
            return str(request.url)
        if fault == "bad_next_link":  # a port no URL can have
            return f"http://127.0.0.1:99999{request.url.path}?$skip={skip + served}"
        if not self.config.server_page_size or served >= top or not more:
            return f"{FOREIGN_HOST}{request.url.path}?$skip={skip + served}" if fault_link else None
        query = {k: v for k, v in request.query_params.items() if k not in ("$skip", "$skiptoken")}
        query["$top"] = str(top - served)
        if self.config.skiptoken:
            query["$skiptoken"] = f"o{skip + served}"
        else:
            query["$skip"] = str(skip + served)
        host = FOREIGN_HOST if fault_link else str(request.base_url).rstrip("/")
        return f"{host}{request.url.path}?{urlencode(query, safe='$')}"

    async def single(self, request: Request) -> Response:
        """``GET /api/v1/{resource}/{id}``; a patient visit in its richer PascalCase detail
        model, site payments 501 on a CCS instance [C]."""
        resource = request.path_params["resource"]
        if resource == "site-payments" and self.config.instance_type != "CCE":
            return self._not_implemented()
        record = (
            self.dataset.get(resource, request.path_params["ident"])
            if resource in RESOURCES
            else None
        )
        if record is None:
            return Response(b"", status_code=404)
        if resource == "patient-visits":
            return _json(_patient_visit_detail(shape_record(record, self.config, [])))
        return _json(shape_record(record, self.config, []))

    async def instance(self, request: Request) -> Response:
        """``GET /api/v1/instance/details``."""
        return _json(
            {
                "instanceUID": self.factory.uid("instance", 1),
                "instanceType": self.config.instance_type,
                "customerUID": None,
                "webVersion": "sim",
                "dbVersion": "sim",
                "pubSub": False,
            }
        )


def _patient_visit_detail(visit: dict[str, Any]) -> dict[str, Any]:
    """The ``PatientVisit`` model ``GET /patient-visits/{id}`` answers with [C]."""
    return {
        "PatientVisitId": visit["id"],
        "PatientVisitUID": visit["uid"],
        "VisitId": visit["visitId"],
        "VisitName": visit["visitName"],
        "Status": {
            "Id": ["Unknown", "Pending", "Completed", "Started"].index(visit["status"]),
            "Name": visit["status"],
        },
        "ScheduledDate": visit["targetDueDate"],
        "StartDate": visit["minDueDate"],
        "CompletionDate": visit["maxDueDate"] if visit["status"] == "Completed" else None,
        "Study": visit["study"],
        "Subject": visit["subject"],
        "Elements": [],
    }


def create_app(config: SimConfig | None = None) -> Starlette:
    """The ASGI app; ``app.state.simulator`` holds the state (stats, reset)."""
    simulator = Simulator(config or SimConfig())
    service = ODataService(simulator.config.seed, simulator.config.odata4_sizes)

    async def stats(request: Request) -> Response:
        return JSONResponse(simulator.stats())

    async def reset(request: Request) -> Response:
        simulator.reset()
        service.expire_tokens()  # a restarted service forgets the skiptokens it handed out
        service.reset_changes()
        return JSONResponse({"reset": True})

    async def not_found(request: Request) -> Response:
        return Response(b"", status_code=404)

    async def change(request: Request) -> Response:
        try:
            wanted = SimChange.model_validate_json(await request.body())
            return JSONResponse(wanted.apply(simulator.dataset, service))
        except (ValueError, KeyError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    root = ODATA4_ROOT
    routes = [
        Route("/__sim/stats", stats, methods=["GET"]),
        Route("/__sim/reset", reset, methods=["POST"]),
        Route("/__sim/change", change, methods=["POST"]),
        Route(root, simulator.route(service.service_document, odata=True)),
        Route(f"{root}/", simulator.route(service.service_document, odata=True)),
        Route(f"{root}/$metadata", simulator.route(service.metadata, odata=True)),
        Route(f"{root}/{{entity_set}}/$count", simulator.route(service.count, odata=True)),
        Route(f"{root}/{{entity_set}}", simulator.route(service.collection, odata=True)),
        Route("/api/v1/instance/details", simulator.route(simulator.instance)),
        *(
            Route(
                f"/api/v1/studies/{{study_id:int}}/{r}/odata",
                simulator.route(simulator.list_resource, resource=r),
            )
            for r in STUDY_SCOPED
        ),
        Route("/api/v1/{resource}/odata", simulator.route(simulator.list_resource)),
        Route("/api/v1/{resource}/{ident:int}", simulator.route(simulator.single)),
        Route("/{path:path}", not_found),
    ]
    app = Starlette(routes=routes)
    app.state.simulator = simulator
    return app
