"""Deterministic, lazily generated fake Clinical Conductor records.

Record ``n`` of a resource is a pure function of (seed, resource, n) — generated in chunks of
500 from one random stream per chunk, so any record can be rebuilt alone: nothing is stored,
so a million records cost only the pages being served (plus a small cache of chunks).
All people are obviously fake: invented syllable names, ``example.invalid`` mail, 555 phones.
"""

from __future__ import annotations

import hashlib
import random
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import orjson

__all__ = ["DEFAULT_SIZES", "RESOURCES", "RecordFactory"]

Record = dict[str, Any]

DEFAULT_SIZES = {
    "sites": 40,
    "studies": 300,
    "patients": 5000,
    "subjects": 3000,
    "visits": 600,
    "patient-visits": 20000,
    "elements": 1500,
    "site-payments": 800,
}
RESOURCES = tuple(DEFAULT_SIZES)

_SYLLABLES = ("zor", "qua", "vex", "lim", "tor", "nax", "pel", "rud", "kai", "mo", "syl", "ben")
_STUDY_STATUSES = (
    "01. Startup",
    "04. Pending IRB",
    "07. Enrollment",
    "09. Follow-up",
    "12. Closed",
)
_PATIENT_STATUSES = ("Active", "Inactive", "OnHold", "Deceased", "Ineligible")
_SUBJECT_STATUSES = (
    "Prescreened",
    "Screened",
    "Randomized",
    "Dropped",
    "Completed",
    "ScreenFailed",
    "NonQualified",
    "RunIn",
    "RunInFailed",
    "FollowUp",
)
_VISIT_STATUSES = ("Unknown", "Pending", "Completed", "Started")
_APPOINTMENT_STATUSES = ("Unknown", "Pending", "Completed", "Started", "Cancelled", "NoShow")
_PHASES = ("Phase I", "Phase II", "Phase III", "Phase IV")
_EPOCH = datetime(2023, 1, 1, 8, 0, 0)
CHUNK = 500
JSON_CACHE_CHUNKS = 600  # 300,000 serialised records, about 200 MB at most


def _int(rng: random.Random, low: int, high: int | None = None) -> int:
    """Like ``randrange`` (without step), several times faster."""
    if high is None:
        low, high = 0, low
    return low + int(rng.random() * (high - low))


def _choice(rng: random.Random, options: Any) -> Any:
    return options[int(rng.random() * len(options))]


def _fake_name(rng: random.Random, parts: int = 2) -> str:
    return "".join(_choice(rng, _SYLLABLES) for _ in range(parts)).capitalize()


def _stamp(rng: random.Random, span_days: int = 900) -> str:
    moment = _EPOCH + timedelta(minutes=_int(rng, span_days * 24 * 60))
    return moment.isoformat()


def _later(stamp: str, rng: random.Random) -> str:
    """A moment 0-300 days after ``stamp``: a record is updated after it was created."""
    moment = datetime.fromisoformat(stamp) + timedelta(minutes=_int(rng, 300 * 24 * 60))
    return moment.isoformat()


class RecordFactory:
    """Builds record ``n`` (1-based id) of any resource for one seed and set of sizes."""

    def __init__(self, seed: int, sizes: dict[str, int]) -> None:
        self.seed = seed
        self.sizes = {**DEFAULT_SIZES, **sizes}
        self._cache: OrderedDict[tuple[str, int], list[Record]] = OrderedDict()
        # enough chunks to hold the largest table: an order other than by id (an incremental
        # sync's timestamp order) reads records at random, and a smaller cache would rebuild
        # a chunk of 500 for nearly every record
        self._cache_chunks = max(256, max(self.sizes.values(), default=0) // CHUNK + 8)
        self._previews: dict[tuple[str, int], Record] = {}
        self._json_cache: OrderedDict[tuple[str, int], list[bytes]] = OrderedDict()
        self._protocol = {"id": 1, "uid": self.uid("protocol", 1), "name": "v1.0"}
        self._arms = [
            {"id": n, "uid": self.uid("arm", n), "name": f"Arm {'ABC'[n - 1]}"} for n in (1, 2, 3)
        ]
        self._builders: dict[str, Callable[[random.Random, int], Record]] = {
            "sites": self._site,
            "studies": self._study,
            "patients": self._patient,
            "subjects": self._subject,
            "visits": self._visit,
            "patient-visits": self._patient_visit,
            "elements": self._element,
            "site-payments": self._site_payment,
        }

    def _rng(self, resource: str, ident: int) -> random.Random:
        digest = hashlib.blake2b(f"{self.seed}:{resource}:{ident}".encode(), digest_size=8)
        return random.Random(int.from_bytes(digest.digest(), "big"))

    def uid(self, resource: str, ident: int) -> str:
        """A stable version-4 UUID for a record."""
        raw = bytearray(
            hashlib.blake2b(f"{self.seed}:{resource}:{ident}:uid".encode(), digest_size=16).digest()
        )
        raw[6] = (raw[6] & 0x0F) | 0x40
        raw[8] = (raw[8] & 0x3F) | 0x80
        h = raw.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def name(self, resource: str, ident: int) -> str:
        """The display name a preview object of this record carries."""
        rng = self._rng(resource, ident + 10_000_000)
        prefix = {"sites": "Site", "studies": "Study", "visits": "Visit", "elements": "Element"}
        if resource in ("patients", "subjects"):
            return f"{_fake_name(rng)}, {_fake_name(rng)}"
        return f"{prefix.get(resource, resource.title())} {_fake_name(rng, 3)}-{ident:04d}"

    def preview(self, resource: str, ident: int) -> Record:
        """The embedded ``{id, uid, name}`` object (a fresh copy; the parts are cached)."""
        key = (resource, ident)
        cached = self._previews.get(key)
        if cached is None:
            cached = {
                "id": ident,
                "uid": self.uid(resource, ident),
                "name": self.name(resource, ident),
            }
            if len(self._previews) < 200_000:
                self._previews[key] = cached
        return dict(cached)

    def _ref(self, rng: random.Random, resource: str) -> Record:
        return self.preview(resource, _int(rng, 1, max(self.sizes[resource], 1) + 1))

    def record(self, resource: str, ident: int) -> Record:
        """Record ``ident`` (ids beyond the base size are records inserted while paging)."""
        chunk_no = (ident - 1) // CHUNK
        key = (resource, chunk_no)
        chunk = self._cache.get(key)
        if chunk is None:
            build = self._builders[resource]
            first = chunk_no * CHUNK + 1
            rng = self._rng(resource, -1 - chunk_no)  # one stream per chunk of records
            chunk = [build(rng, i) for i in range(first, first + CHUNK)]
            self._cache[key] = chunk
            if len(self._cache) > self._cache_chunks:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return chunk[(ident - 1) % CHUNK]

    def record_json(self, resource: str, ident: int) -> bytes:
        """Record ``ident`` serialised; kept in a larger cache than the dicts (about 3x smaller)."""
        chunk_no = (ident - 1) // CHUNK
        key = (resource, chunk_no)
        chunk = self._json_cache.get(key)
        if chunk is None:
            first = chunk_no * CHUNK + 1
            chunk = [orjson.dumps(self.record(resource, i)) for i in range(first, first + CHUNK)]
            self._json_cache[key] = chunk
            if len(self._json_cache) > JSON_CACHE_CHUNKS:
                self._json_cache.popitem(last=False)
        else:
            self._json_cache.move_to_end(key)
        return chunk[(ident - 1) % CHUNK]

    def _site(self, rng: random.Random, ident: int) -> Record:
        return {
            "id": ident,
            "uid": self.uid("sites", ident),
            "name": self.name("sites", ident),
            "active": rng.random() > 0.1,
            "alternateName": f"S{ident:03d}",
            "address1": f"{_int(rng, 1, 999)} {_fake_name(rng)} Way",
            "city": _fake_name(rng, 3),
            "state": _choice(rng, ("NA", "SB", "QX")),
            "country": "Simland",
            "zip": f"{_int(rng, 10000, 99999)}",
            "primaryPhone": f"555-01{_int(rng, 10, 99)}",
            "primaryEmail": f"site{ident}@example.invalid",
            "timeZone": str(_choice(rng, (-8, -7, -6, -5, 0, 1))),
            "observesDST": rng.random() > 0.3,
            "organization": f"Org {_fake_name(rng)}",
            "createdOn": _stamp(rng),
        }

    def _study(self, rng: random.Random, ident: int) -> Record:
        created = _stamp(rng, 600)
        return {
            "id": ident,
            "uid": self.uid("studies", ident),
            "name": self.name("studies", ident),
            "status": _choice(rng, _STUDY_STATUSES),
            "title": f"A study of {_fake_name(rng, 3)} in {_fake_name(rng, 2)}"
            + (" (it's simulated)" if rng.random() < 0.5 else ""),
            "protocolNumber": f"PRT-{ident:05d}",
            "nctNumber": f"NCT9{ident:07d}",
            "phase": _choice(rng, _PHASES),
            "category": _choice(rng, ("Oncology", "Cardiology", "CNS")),
            "subcategory": _choice(rng, (None, "Adult", "Pediatric")),
            "sponsor": {"id": _int(rng, 1, 50), "name": f"Sponsor {_fake_name(rng)}"},
            "sponsorDivision": {"id": _int(rng, 1, 20), "name": "Division A"},
            "sponsorTeam": {"id": _int(rng, 1, 20), "name": "Team 1"},
            "managingSite": self._ref(rng, "sites"),
            "organization": {"id": 1, "name": "Org Simulated"},
            "createdOn": created,
            "lastUpdatedOn": _later(created, rng),
            "launchYear": _int(rng, 2018, 2026),
            "studyGroups": [],
            "studyTypes": ["Drug"],
            "customFields": [],
        }

    def _patient(self, rng: random.Random, ident: int) -> Record:
        first, last = _fake_name(rng), _fake_name(rng)
        return {
            "id": ident,
            "uid": self.uid("patients", ident),
            "firstName": first,
            "lastName": last,
            "displayName": f"{last}, {first}",
            "status": _choice(rng, _PATIENT_STATUSES),
            "primarySite": self._ref(rng, "sites"),
            "dateOfBirth": f"19{_int(rng, 40, 99)}-0{_int(rng, 1, 10)}-1{_int(rng, 0, 9)}T00:00:00",
            "genderCode": _choice(rng, ("M", "F", "U")),
            "race": "Not Reported",
            "ethnicity": "Not Reported",
            "primaryEmail": {"email": f"patient{ident}@example.invalid", "doNotEmail": True},
            "phone1": {"rawNumber": "5550100", "number": "555-0100", "outOfService": False},
            "city": _fake_name(rng, 3),
            "state": "NA",
            "zip": "00000",
            "activeStudies": [self._ref(rng, "studies")],
            "mrn": f"SIM-{ident:07d}",
            "importId": None,
        }

    def _subject(self, rng: random.Random, ident: int) -> Record:
        patient_id = _int(rng, 1, self.sizes["patients"] + 1)
        return {
            "id": ident,
            "uid": self.uid("subjects", ident),
            "study": self._ref(rng, "studies"),
            "site": self._ref(rng, "sites"),
            "patient": {**self.preview("patients", patient_id), "genderCode": "U"},
            "status": _choice(rng, _SUBJECT_STATUSES),
            "protocolVersion": dict(self._protocol),
            "arm": dict(_choice(rng, self._arms)),
            "screeningNumber": f"SCR-{ident:06d}",
            "randomizationNumber": None,
            "enrollmentDate": _stamp(rng),
            "enrollmentLocation": None,
            "treatmentStatus": None,
            "treatmentStart": None,
            "genderCode": "U",
            "race": "Not Reported",
            "ethnicity": "Not Reported",
            "importId": None,
            "tag": None,
            "facilityCode": None,
            "narrative": None,
        }

    def _visit(self, rng: random.Random, ident: int) -> Record:
        return {
            "id": ident,
            "uid": self.uid("visits", ident),
            "study": self._ref(rng, "studies"),
            "protocolVersion": dict(self._protocol),
            "arms": [],
            "name": self.name("visits", ident),
            "type": _choice(rng, ("Screening", "Treatment", "Follow-up")),
            "reference": None,
            "description": None,
            "optionalProcedure": None,
            "budget": round(rng.uniform(50, 900), 2),
            "cost": round(rng.uniform(20, 400), 2),
            "patientStipend": 50.0,
            "caregiverStipend": 0.0,
            "isActive": True,
            "isBudgetAutoRecomputed": False,
            "isCostAutoRecomputed": False,
            "autoRepeat": False,
            "repeatOnDemand": False,
            "importId": None,
            "importType": None,
        }

    def _patient_visit(self, rng: random.Random, ident: int) -> Record:
        due = _stamp(rng)
        return {
            "id": ident,
            "uid": self.uid("patient-visits", ident),
            "sequence": _int(rng, 1, 20),
            "visitId": _int(rng, 1, self.sizes["visits"] + 1),
            "visitName": f"Visit {_int(rng, 1, 20)}",
            "cycleName": None,
            "mandatory": rng.random() > 0.2,
            "status": _choice(rng, _VISIT_STATUSES),
            "targetDueDate": due,
            "minDueDate": due,
            "maxDueDate": due,
            "appointments": [
                {
                    "id": ident * 10,
                    "status": _choice(rng, _APPOINTMENT_STATUSES),
                    "scheduledStart": due,
                    "scheduledEnd": due,
                }
            ],
            "study": self._ref(rng, "studies"),
            "subject": self._ref(rng, "subjects"),
        }

    def _element(self, rng: random.Random, ident: int) -> Record:
        return {
            "id": ident,
            "uid": self.uid("elements", ident),
            "study": self._ref(rng, "studies"),
            "name": self.name("elements", ident),
            "type": _choice(rng, ("Procedure", "Lab")),
            "description": None,
            "initialCategory": "Clinical",
            "initialInvoiceability": _choice(rng, ("Invoiceable", "Non-Invoiceable")),
            "budget": round(rng.uniform(10, 500), 2),
            "cost": round(rng.uniform(5, 200), 2),
            "placeOfService": None,
            "cpt": f"9{_int(rng, 1000, 9999)}",
            "mnemonic": None,
            "standardTimeMinutes": _choice(rng, (15, 30, 60)),
            "roomAssignment": {"type": "NoRoom", "id": None, "name": None},
            "importId": None,
            "importType": None,
        }

    def _site_payment(self, rng: random.Random, ident: int) -> Record:
        return {
            "id": ident,
            "site": self._ref(rng, "sites"),
            "locked": rng.random() > 0.5,
            "amount": round(rng.uniform(100, 20000), 2),
            "createdOn": _stamp(rng),
            "referenceNumber": f"REF-{ident:06d}",
            "approvedOn": None,
            "approvedBy": None,
            "checkRequest": None,
            "checkNumber": None,
            "paymentDate": _stamp(rng),
            "comment": None,
        }
