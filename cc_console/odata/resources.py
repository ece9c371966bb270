"""Record schemas of the eight Clinical Conductor resources, validation and drift detection.

Field names and types follow the vendor's Swagger (shared/reference, section 4). Models are
strict (a number sent as a string is a retyped field) and allow extra fields, which are
reported as drift rather than rejected.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NotRequired, cast

from pydantic import AliasChoices, ConfigDict, Field, TypeAdapter, ValidationError, with_config
from typing_extensions import TypedDict

__all__ = ["RESOURCE_SCHEMAS", "ResourceSchema", "Validation", "resource_name", "validate_records"]

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

    @property
    def ok(self) -> bool:
        """True when every record validated."""
        return not self.invalid_keys


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
    resource: str, records: list[dict[str, Any]], *, key: str = "id", sample: int = 5
) -> Validation:
    """Validate records against the resource schema; collect drift and a capped error sample."""
    schema = RESOURCE_SCHEMAS.get(resource)
    model = schema.model if schema else None
    result = Validation(
        schema_name=model.__name__ if model else "unknown",
        schema_version=SCHEMA_VERSION,
        checked=len(records),
        fingerprint=_shape(records),
    )
    if model is None:
        return result
    assert schema is not None
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
                    "key": record.get(key) if isinstance(record, dict) else None,
                    "field": where,
                    "error": error["type"],
                    "message": error["msg"],
                }
            )
    result.invalid_keys = [
        str(records[i].get(key) if isinstance(records[i], dict) else None) for i in invalid
    ]
    added = sorted(seen - declared)
    absent = sorted((schema.validated_fields - seen) | missing) if records else []
    result.drift = {
        k: v
        for k, v in {"added": added, "missing": absent, "retyped": sorted(retyped)}.items()
        if v
    }
    return result
