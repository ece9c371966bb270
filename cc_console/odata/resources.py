"""Record schemas of the eight Clinical Conductor resources, validation and drift detection.

Field names and types follow the vendor's Swagger (shared/reference, section 4). Models are
strict (a number sent as a string is a retyped field) and allow extra fields, which are
reported as drift rather than rejected.
"""

from __future__ import annotations

import functools
import hashlib
import types
import typing
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NotRequired, cast, get_args, get_origin, get_type_hints

from pydantic import AliasChoices, ConfigDict, Field, TypeAdapter, ValidationError, with_config
from typing_extensions import TypedDict

from .edm import edm_problem
from .keys import Key, key_text

__all__ = [
    "RESOURCE_SCHEMAS",
    "STUDY_SCOPED",
    "is_study_scoped",
    "ResourceSchema",
    "Validation",
    "builtin_edm_types",
    "effective_key",
    "resource_name",
    "study_scoped_path",
    "validate_records",
]

SCHEMA_VERSION = "2025-12-30"  # the vendor Swagger snapshot the models follow


_STRICT = ConfigDict(extra="allow", strict=True)


@with_config(_STRICT)
class Preview(TypedDict, total=False):
    """An embedded ``{id, uid, name}`` reference (``Id/Uid/Name`` in Swagger casing)."""

    id: Annotated[int | None, Field(validation_alias=AliasChoices("id", "Id"))]
    uid: Annotated[str | None, Field(validation_alias=AliasChoices("uid", "Uid"))]
    name: Annotated[str | None, Field(validation_alias=AliasChoices("name", "Name"))]


@with_config(_STRICT)
class _Keyed(TypedDict):
    """Every resource is keyed by an int ``id``."""

    id: int


@with_config(_STRICT)
class _Record(_Keyed):
    """Most resources carry a ``uid`` too."""

    uid: NotRequired[str | None]


@with_config(_STRICT)
class Site(_Record):
    name: str
    active: NotRequired[bool | None]
    alternateName: NotRequired[str | None]
    city: NotRequired[str | None]
    country: NotRequired[str | None]
    timeZone: NotRequired[str | None]
    observesDST: NotRequired[bool | None]
    organization: NotRequired[str | None]
    createdOn: NotRequired[str | None]


@with_config(_STRICT)
class Study(_Record):
    name: str
    status: NotRequired[str | None]
    title: NotRequired[str | None]
    protocolNumber: NotRequired[str | None]
    phase: NotRequired[str | None]
    sponsor: NotRequired[Preview | None]
    managingSite: NotRequired[Preview | None]
    organization: NotRequired[Preview | None]
    createdOn: NotRequired[str | None]
    lastUpdatedOn: NotRequired[str | None]
    launchYear: NotRequired[int | None]


@with_config(_STRICT)
class Patient(_Record):
    firstName: NotRequired[str | None]
    lastName: NotRequired[str | None]
    status: NotRequired[Literal["Active", "Inactive", "OnHold", "Deceased", "Ineligible"] | None]
    primarySite: NotRequired[Preview | None]
    dateOfBirth: NotRequired[str | None]
    genderCode: NotRequired[str | None]


@with_config(_STRICT)
class Subject(_Record):
    study: NotRequired[Preview | None]
    site: NotRequired[Preview | None]
    patient: NotRequired[Preview | None]
    status: NotRequired[str | None]
    arm: NotRequired[Preview | None]
    screeningNumber: NotRequired[str | None]
    enrollmentDate: NotRequired[str | None]


@with_config(_STRICT)
class Visit(_Record):
    study: NotRequired[Preview | None]
    name: str
    type: NotRequired[str | None]
    budget: NotRequired[float | None]
    cost: NotRequired[float | None]
    isActive: NotRequired[bool | None]


@with_config(_STRICT)
class PatientVisit(_Record):
    sequence: NotRequired[int | None]
    visitId: NotRequired[int | None]
    status: NotRequired[Literal["Unknown", "Pending", "Completed", "Started"] | None]
    targetDueDate: NotRequired[str | None]
    study: NotRequired[Preview | None]
    subject: NotRequired[Preview | None]


@with_config(_STRICT)
class Element(_Record):
    study: NotRequired[Preview | None]
    name: str
    type: NotRequired[str | None]
    budget: NotRequired[float | None]
    cost: NotRequired[float | None]
    standardTimeMinutes: NotRequired[int | None]


@with_config(_STRICT)
class SitePayment(_Keyed):
    site: NotRequired[Preview | None]
    locked: NotRequired[bool | None]
    amount: NotRequired[float | None]
    createdOn: NotRequired[str | None]
    referenceNumber: NotRequired[str | None]


# fields of the vendor's view models that are documented but not type-checked here
_ALSO_DOCUMENTED = {
    "sites": "address1 state zip primaryPhone primaryEmail",
    "studies": "nctNumber category subcategory sponsorDivision sponsorTeam studyGroups"
    " studyTypes customFields",
    "patients": "displayName race ethnicity primaryEmail phone1 phone2 phone3 phone4 city state"
    " zip activeStudies mrn importId",
    "subjects": "protocolVersion randomizationNumber enrollmentLocation treatmentStatus"
    " treatmentStart genderCode race ethnicity importId tag facilityCode narrative",
    "visits": "protocolVersion arms reference description optionalProcedure patientStipend"
    " caregiverStipend isBudgetAutoRecomputed isCostAutoRecomputed autoRepeat repeatOnDemand"
    " importId importType",
    "patient-visits": "visitName cycleName mandatory minDueDate maxDueDate appointments",
    "elements": "description initialCategory initialInvoiceability placeOfService cpt mnemonic"
    " roomAssignment importId importType",
    "site-payments": "approvedOn approvedBy checkRequest checkNumber paymentDate comment",
}


@functools.cache
def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


@functools.cache
def _page_adapter(model: Any) -> TypeAdapter[Any]:
    # one call per page instead of one per record: the happy path costs a third as much
    return TypeAdapter(list[model])


@dataclass(frozen=True)
class ResourceSchema:
    """How to key, order and validate one resource."""

    name: str
    model: type[_Keyed]
    key: str = "id"

    @property
    def validated_fields(self) -> set[str]:
        """The fields the schema type-checks."""
        return set(self.model.__annotations__)

    @property
    def adapter(self) -> TypeAdapter[Any]:
        """The compiled validator (built once per schema)."""
        return _adapter(cast(Hashable, self.model))  # a TypedDict class hashes

    @property
    def page_adapter(self) -> TypeAdapter[Any]:
        """The compiled validator of a whole page (a list of records)."""
        return _page_adapter(cast(Hashable, self.model))

    @property
    def fields(self) -> set[str]:
        """Every documented field: the validated ones and the rest."""
        return self.validated_fields | set(_ALSO_DOCUMENTED.get(self.name, "").split())


RESOURCE_SCHEMAS = {
    schema.name: schema
    for schema in (
        ResourceSchema("sites", Site),
        ResourceSchema("studies", Study),
        ResourceSchema("patients", Patient),
        ResourceSchema("subjects", Subject),
        ResourceSchema("visits", Visit),
        ResourceSchema("patient-visits", PatientVisit),
        ResourceSchema("elements", Element),
        ResourceSchema("site-payments", SitePayment),
    )
}


# the vendor's date-time fields (strings in the models: the site-local text is kept as sent)
_DATE_TIME = {"createdOn", "lastUpdatedOn", "dateOfBirth", "enrollmentDate", "targetDueDate"}
_PYTHON_EDM = {bool: "Edm.Boolean", int: "Edm.Int32", float: "Edm.Double", str: "Edm.String"}


def _edm_of(name: str, annotation: Any) -> str:
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (types.UnionType, typing.Union) and len(args) == 1:
        annotation = args[0]
    if get_origin(annotation) is Literal:
        return "Edm.String"
    if name == "uid":
        return "Edm.Guid"
    if annotation is str and name in _DATE_TIME:
        return "Edm.DateTimeOffset"
    return _PYTHON_EDM.get(annotation, "Complex")  # a Preview or another nested object


def builtin_edm_types(resource: str) -> dict[str, str]:
    """The Edm type of each field a built-in resource schema declares, in declaration order
    (embedded previews are ``Complex``); empty for a resource without a built-in schema."""
    schema = RESOURCE_SCHEMAS.get(resource)
    if schema is None:
        return {}
    hints = get_type_hints(schema.model)
    return {name: _edm_of(name, hints[name]) for name in schema.model.__annotations__}


def _check_edm(
    records: list[dict[str, Any]],
    edm_schema: dict[str, Any],
    key: Key,
    keyless: set[int],
    result: Validation,
    sample: int,
) -> None:
    """Validate against the Edm types of ``$metadata``; drift by the declared properties."""
    properties: dict[str, str] = edm_schema.get("properties", {})
    nullable = set(edm_schema.get("nullable", ()))
    seen: set[str] = set()
    retyped: set[str] = set()
    for position, record in enumerate(records):
        seen.update(name for name in record if "@" not in name)  # annotations are no data
        bad = False
        for name, value in record.items():
            edm_type = properties.get(name)
            problem = None if edm_type is None else edm_problem(value, edm_type, name in nullable)
            if problem is None:
                continue
            bad = True
            if problem == "type":
                retyped.add(name)
            if len(result.errors_sample) < sample:
                result.errors_sample.append(
                    {
                        "key": key_text(record, key),
                        "field": name,
                        "error": "null" if problem == "null" else "edm_type",
                        "message": f"{name}: {value!r} is no {edm_type}"
                        + (" (not nullable)" if problem == "null" else ""),
                    }
                )
        if bad and position not in keyless:
            result.invalid_keys.append(str(key_text(record, key)))
    added = sorted(seen - set(properties))
    absent = sorted(set(properties) - seen) if records else []
    result.drift = {
        k: v
        for k, v in {"added": added, "missing": absent, "retyped": sorted(retyped)}.items()
        if v
    }


# the Clinical Conductor resources a study scopes (also /studies/{id}/<resource>/odata) [C]
STUDY_SCOPED = ("subjects", "visits", "elements")


def is_study_scoped(resource_path: str) -> bool:
    """``/studies/3/visits/odata``: a study's own rows of a resource."""
    return resource_name(resource_path) != resource_path.strip("/").split("/")[0]


def study_scoped_path(resource_path: str, study_id: int) -> str:
    """``/visits/odata`` of study 3 → ``/studies/3/visits/odata``; ValueError for a resource
    no study scopes."""
    name = resource_name(resource_path)
    if name not in STUDY_SCOPED or resource_path.strip("/").startswith("studies/"):
        raise ValueError(f"only {', '.join(STUDY_SCOPED)} are scoped by a study")
    return f"/studies/{study_id}/{name}/odata"


def effective_key(
    record_key: list[str] | tuple[str, ...] | None, resource_path: str, dialect: str
) -> Key | None:
    """The key a template's records are known by: its own (from ``$metadata`` or ``--key``),
    else — for the Clinical Conductor dialect only — the built-in resource schema's."""
    if record_key:
        return tuple(record_key)
    if dialect == "clinical-conductor":
        schema = RESOURCE_SCHEMAS.get(resource_name(resource_path))
        if schema is not None:
            return (schema.key,)
    return None


def resource_name(resource_path: str) -> str:
    """``/studies/3/subjects/odata`` → ``subjects``: the segment before ``odata``."""
    parts = [p for p in resource_path.split("/") if p]
    if parts and parts[-1].lower() == "odata":
        parts = parts[:-1]
    return parts[-1] if parts else ""


@dataclass
class Validation:
    """The outcome of validating one page of records."""

    schema_name: str
    schema_version: str
    checked: int = 0
    invalid_keys: list[str] = field(default_factory=list)
    errors_sample: list[dict[str, Any]] = field(default_factory=list)
    drift: dict[str, list[str]] = field(default_factory=dict)
    fingerprint: str = ""
    rejected: int = 0  # records without a usable key: they cannot land

    @property
    def ok(self) -> bool:
        """True when every record has its key and validated."""
        return not self.invalid_keys and not self.rejected

    @property
    def invalid(self) -> int:
        """Records that failed: without a key, or not matching the schema."""
        return len(self.invalid_keys) + self.rejected


_TYPE_ERRORS = {
    "int_type",
    "string_type",
    "bool_type",
    "float_type",
    "dict_type",
    "list_type",
    "model_type",
    "literal_error",
}


def _shape(records: list[dict[str, Any]], sample: int = 25) -> str:
    # a spread sample: the fingerprint tells shapes apart, drift lists come from every record
    step = max(1, len(records) // sample)
    kinds: set[str] = set()
    for record in records[::step]:
        kinds.update(
            f"{key}:{type(value).__name__}" for key, value in record.items() if value is not None
        )
    return hashlib.sha256("|".join(sorted(kinds)).encode()).hexdigest()


def validate_records(
    resource: str,
    records: list[dict[str, Any]],
    *,
    key: Key = ("id",),
    sample: int = 5,
    builtin: bool = True,
    edm_schema: dict[str, Any] | None = None,
) -> Validation:
    """Check every record has its key, then validate records against the resource's built-in
    schema (``builtin``: the Clinical Conductor dialect's) or the Edm types ``$metadata``
    gave (``edm_schema``, a template's ``record_schema``); collect drift and a capped error
    sample."""
    schema = RESOURCE_SCHEMAS.get(resource) if builtin and edm_schema is None else None
    model = schema.model if schema else None
    name = model.__name__ if model else "unknown"
    if edm_schema is not None:
        name = str(edm_schema.get("entity_type", "unknown"))
    result = Validation(
        schema_name=name,
        schema_version=SCHEMA_VERSION,
        checked=len(records),
        fingerprint=_shape(records),
    )
    keyless: set[int] = set()
    for position, record in enumerate(records):
        if key_text(record, key) is None:
            keyless.add(position)
            result.rejected += 1
            if len(result.errors_sample) < sample:
                result.errors_sample.append(
                    {
                        "key": None,
                        "position": position,
                        "field": ",".join(key),
                        "error": "missing_key",
                        "message": "the record has no usable key: it is kept in Bronze only",
                    }
                )
    if edm_schema is not None:
        _check_edm(records, edm_schema, key, keyless, result, sample)
        return result
    if schema is None or model is None:
        return result
    declared = schema.fields
    seen: set[str] = set()
    for record in records:
        seen.update(record)
    retyped: set[str] = set()
    missing: set[str] = set()
    try:
        schema.page_adapter.validate_python(records)
        errors: list[Any] = []
    except ValidationError as exc:
        errors = exc.errors()
    invalid: dict[int, None] = {}
    for error in errors:
        index, *path = error["loc"]
        record = records[int(index)]
        invalid[int(index)] = None
        where = ".".join(str(p) for p in path)
        if error["type"] == "missing":
            missing.add(where)
        elif error["type"] in _TYPE_ERRORS:
            retyped.add(where)
        if len(result.errors_sample) < sample:
            result.errors_sample.append(
                {
                    "key": key_text(record, key) if isinstance(record, dict) else None,
                    "field": where,
                    "error": error["type"],
                    "message": error["msg"],
                }
            )
    # a record without a key is rejected already: it does not count as invalid too
    result.invalid_keys = [str(key_text(records[i], key)) for i in invalid if i not in keyless]
    added = sorted(seen - declared)
    absent = sorted((schema.validated_fields - seen) | missing) if records else []
    result.drift = {
        k: v
        for k, v in {"added": added, "missing": absent, "retyped": sorted(retyped)}.items()
        if v
    }
    return result
