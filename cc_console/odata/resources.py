"""Record schemas of the eight Clinical Conductor resources, validation and drift detection.

Field names and types follow the vendor's Swagger (shared/reference, section 4). Models are
strict (a number sent as a string is a retyped field) and allow extra fields, which are
reported as drift rather than rejected.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

__all__ = ["RESOURCE_SCHEMAS", "ResourceSchema", "Validation", "resource_name", "validate_records"]

SCHEMA_VERSION = "2025-12-30"  # the vendor Swagger snapshot the models follow


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, populate_by_name=True)


class Preview(_Model):
    """An embedded ``{id, uid, name}`` reference (``Id/Uid/Name`` in Swagger casing)."""

    id: int | None = Field(None, validation_alias=AliasChoices("id", "Id"))
    uid: str | None = Field(None, validation_alias=AliasChoices("uid", "Uid"))
    name: str | None = Field(None, validation_alias=AliasChoices("name", "Name"))


class _Record(_Model):
    """Every resource is keyed by an int ``id``; most carry a ``uid`` too."""

    id: int
    uid: str | None = None


class Site(_Record):
    name: str
    active: bool | None = None
    alternateName: str | None = None
    city: str | None = None
    country: str | None = None
    timeZone: str | None = None
    observesDST: bool | None = None
    organization: str | None = None
    createdOn: str | None = None


class Study(_Record):
    name: str
    status: str | None = None
    title: str | None = None
    protocolNumber: str | None = None
    phase: str | None = None
    sponsor: Preview | None = None
    managingSite: Preview | None = None
    organization: Preview | None = None
    createdOn: str | None = None
    lastUpdatedOn: str | None = None
    launchYear: int | None = None


class Patient(_Record):
    firstName: str | None = None
    lastName: str | None = None
    status: Literal["Active", "Inactive", "OnHold", "Deceased", "Ineligible"] | None = None
    primarySite: Preview | None = None
    dateOfBirth: str | None = None
    genderCode: str | None = None


class Subject(_Record):
    study: Preview | None = None
    site: Preview | None = None
    patient: Preview | None = None
    status: str | None = None
    arm: Preview | None = None
    screeningNumber: str | None = None
    enrollmentDate: str | None = None


class Visit(_Record):
    study: Preview | None = None
    name: str
    type: str | None = None
    budget: float | None = None
    cost: float | None = None
    isActive: bool | None = None


class PatientVisit(_Record):
    sequence: int | None = None
    visitId: int | None = None
    status: Literal["Unknown", "Pending", "Completed", "Started"] | None = None
    targetDueDate: str | None = None
    study: Preview | None = None
    subject: Preview | None = None


class Element(_Record):
    study: Preview | None = None
    name: str
    type: str | None = None
    budget: float | None = None
    cost: float | None = None
    standardTimeMinutes: int | None = None


class SitePayment(_Record):
    site: Preview | None = None
    locked: bool | None = None
    amount: float | None = None
    createdOn: str | None = None
    referenceNumber: str | None = None


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


@dataclass(frozen=True)
class ResourceSchema:
    """How to key, order and validate one resource."""

    name: str
    model: type[_Record]
    key: str = "id"

    @property
    def fields(self) -> set[str]:
        """Every documented field: the validated ones and the rest."""
        return set(self.model.model_fields) | set(_ALSO_DOCUMENTED.get(self.name, "").split())

    @property
    def default_orderby(self) -> str:
        """The stable order used when a template gives none."""
        return f"{self.key} asc"


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
    retyped: set[str] = set()
    missing: set[str] = set()
    for record in records:
        seen.update(record)
        try:
            model.model_validate(record)
        except ValidationError as exc:
            result.invalid_keys.append(str(record.get(key)))
            for error in exc.errors():
                where = ".".join(str(p) for p in error["loc"])
                if error["type"] == "missing":
                    missing.add(where)
                elif error["type"] in _TYPE_ERRORS:
                    retyped.add(where)
                if len(result.errors_sample) < sample:
                    result.errors_sample.append(
                        {
                            "key": record.get(key),
                            "field": where,
                            "error": error["type"],
                            "message": error["msg"],
                        }
                    )
    added = sorted(seen - declared)
    absent = sorted((set(model.model_fields) - seen) | missing) if records else []
    result.drift = {
        k: v
        for k, v in {"added": added, "missing": absent, "retyped": sorted(retyped)}.items()
        if v
    }
    return result
