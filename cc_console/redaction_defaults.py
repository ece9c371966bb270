"""The redaction a Clinical Conductor template gets when it is added: person data.

The vendor's Swagger (shared/reference, section 4) puts a subject's identity on a few
resources: a patient's names, birth date, e-mail, phones, city/state/zip and MRN; the
patient preview embedded in a subject (names, birth date, its display ``name``); the subject
preview ``{id, uid, name}`` on visits and statuses; free text (a subject's ``narrative``, a
status ``comment``). A template on one of them starts with this policy, so an auditor never
sees those values unless an operator says so (``audit redact set`` / ``clear``). Both casings
are named: tenants answer in camelCase or in the Swagger's PascalCase.
"""

from __future__ import annotations

from .odata.resources import resource_name

__all__ = ["default_policy_paths"]

_PERSON = (
    "firstName",
    "middleName",
    "lastName",
    "displayName",
    "dateOfBirth",
    "primaryEmail",
    "phone1",
    "phone2",
    "phone3",
    "phone4",
    "city",
    "state",
    "zip",
    "mrn",
)


def _anywhere(*names: str) -> tuple[str, ...]:
    return tuple(f"$..{name}" for name in names)


def _pascal(paths: tuple[str, ...]) -> tuple[str, ...]:
    """``$..firstName`` → ``$..FirstName``, ``$.subject.name`` → ``$.Subject.Name``."""
    out = []
    for path in paths:
        steps = path[1:].split(".")
        out.append("$" + ".".join(s[:1].upper() + s[1:] for s in steps))
    return tuple(out)


_BY_RESOURCE: dict[str, tuple[str, ...]] = {
    "patients": _anywhere(*_PERSON),
    "subjects": (*_anywhere(*_PERSON, "narrative"), "$.patient.name"),
    "subject-statuses": ("$.subject.name", *_anywhere("comment")),
    "patient-visits": ("$.subject.name",),
}


def default_policy_paths(dialect: str, resource_path: str) -> tuple[str, ...]:
    """The paths a new template on ``resource_path`` is redacted by (none: not person data,
    or not a Clinical Conductor config)."""
    if dialect != "clinical-conductor":
        return ()
    paths = _BY_RESOURCE.get(resource_name(resource_path), ())
    return (*paths, *_pascal(paths)) if paths else ()
