"""The standard OData v4 service's model: entity types, sets, their CSDL, their records.

Built from the OData v4.01 specification (CSDL XML, JSON Format), not from what the client
expects: PascalCase sets keyed by their own properties (an integer key with gaps, a string
key, a composite key, an Int64 key), a derived type whose key is its base type's, a schema
with a namespace and an alias that entity sets use both ways, and a per-set maximum page
size. Records are generated from the seed, lazily, the same on every run.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from xml.sax.saxutils import quoteattr

__all__ = [
    "DEFAULT_SIZES",
    "NAMESPACE",
    "SETS",
    "EntitySetSpec",
    "csdl",
    "modified_stamp",
    "record",
]

NAMESPACE, ALIAS = "Demo.Sales", "Sales"


@dataclass(frozen=True)
class EntityTypeSpec:
    name: str
    key: tuple[str, ...]
    properties: tuple[tuple[str, str, bool], ...]  # (name, Edm type, nullable)
    base: str | None = None


@dataclass(frozen=True)
class EntitySetSpec:
    name: str
    type_name: str
    max_page_size: int
    qualified_by: str = ALIAS  # how the EntitySet element names its type: alias or namespace
    key: tuple[str, ...] = field(default=())
    properties: dict[str, tuple[str, bool]] = field(default_factory=dict)


_TYPES = {
    "Customer": EntityTypeSpec(
        "Customer",
        ("CustomerID",),
        (
            ("CustomerID", "Edm.String", False),
            ("CompanyName", "Edm.String", False),
            ("Country", "Edm.String", True),
            ("Phone", "Edm.String", True),
            ("Since", "Edm.Date", True),
        ),
    ),
    "Order": EntityTypeSpec(
        "Order",
        ("OrderID",),
        (
            ("OrderID", "Edm.Int32", False),
            ("CustomerID", "Edm.String", True),
            ("OrderDate", "Edm.DateTimeOffset", False),
            ("Freight", "Edm.Decimal", True),
            ("ShipCountry", "Edm.String", True),
            ("Shipped", "Edm.Boolean", False),
            # a modification stamp with .NET's seven fractional digits, and ties
            ("LastModified", "Edm.DateTimeOffset", False),
        ),
    ),
    "PriorityOrder": EntityTypeSpec(
        "PriorityOrder", (), (("Priority", "Edm.Int32", False),), base="Order"
    ),
    "OrderLine": EntityTypeSpec(
        "OrderLine",
        ("OrderID", "LineNumber"),
        (
            ("OrderID", "Edm.Int32", False),
            ("LineNumber", "Edm.Int32", False),
            ("ProductID", "Edm.Int64", False),
            ("Quantity", "Edm.Int32", False),
            ("UnitPrice", "Edm.Decimal", False),
        ),
    ),
    "Product": EntityTypeSpec(
        "Product",
        ("ProductID",),
        (
            ("ProductID", "Edm.Int64", False),
            ("Name", "Edm.String", False),
            ("Price", "Edm.Double", True),
            ("Discontinued", "Edm.Boolean", False),
            ("Code", "Edm.Guid", False),
        ),
    ),
}


def _resolved(spec: EntityTypeSpec) -> tuple[tuple[str, ...], dict[str, tuple[str, bool]]]:
    """A type's key and properties, its bases' first."""
    chain = [spec]
    while chain[-1].base is not None:
        chain.append(_TYPES[chain[-1].base or ""])
    key = next(t.key for t in reversed(chain) if t.key)
    properties = {n: (t, nullable) for s in reversed(chain) for n, t, nullable in s.properties}
    return key, properties


def _set(name: str, type_name: str, max_page: int, by: str = ALIAS) -> EntitySetSpec:
    key, properties = _resolved(_TYPES[type_name])
    return EntitySetSpec(name, type_name, max_page, by, key, properties)


SETS: dict[str, EntitySetSpec] = {
    s.name: s
    for s in (
        _set("Customers", "Customer", 200, by=NAMESPACE),
        _set("Orders", "Order", 1000),
        _set("PriorityOrders", "PriorityOrder", 1000),
        _set("OrderLines", "OrderLine", 1000),
        _set("Products", "Product", 50),  # capped below a client's usual $top
    )
}
DEFAULT_SIZES = {
    "Customers": 91,
    "Orders": 830,
    "PriorityOrders": 60,
    "OrderLines": 2155,
    "Products": 77,
}


def csdl() -> str:
    """The ``$metadata`` document."""
    types = []
    for spec in _TYPES.values():
        base = f" BaseType={quoteattr(f'{ALIAS}.{spec.base}')}" if spec.base else ""
        key = ""
        if spec.key:
            refs = "".join(f"<PropertyRef Name={quoteattr(n)}/>" for n in spec.key)
            key = f"<Key>{refs}</Key>"
        props = "".join(
            f"<Property Name={quoteattr(n)} Type={quoteattr(t)}"
            + ("" if nullable else ' Nullable="false"')
            + "/>"
            for n, t, nullable in spec.properties
        )
        types.append(f"<EntityType Name={quoteattr(spec.name)}{base}>{key}{props}</EntityType>")
    sets = "".join(
        f"<EntitySet Name={quoteattr(s.name)} EntityType={quoteattr(f'{s.qualified_by}.{s.type_name}')}/>"
        for s in SETS.values()
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">'
        "<edmx:DataServices>"
        f'<Schema Namespace="{NAMESPACE}" Alias="{ALIAS}"'
        ' xmlns="http://docs.oasis-open.org/odata/ns/edm">'
        + "".join(types)
        + f'<EntityContainer Name="Container">{sets}</EntityContainer>'
        "</Schema></edmx:DataServices></edmx:Edmx>"
    )


_COUNTRIES = ("Germany", "Mexico", "UK", "Sweden", "France", "Spain", "Canada", "Brazil")
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def _rng(seed: int, set_name: str, index: int) -> random.Random:
    return random.Random(f"{seed}|{set_name}|{index}")


def modified_stamp(slot: int) -> str:
    """The ``slot``-th modification moment (an hour apart from 2025) with seven fractional
    digits derived from it: records of one slot tie exactly."""
    moment = _EPOCH + timedelta(days=366, hours=slot)
    fraction = (slot * 7_919_813 + 1_234_567) % 10_000_000
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{fraction:07d}Z"


def order_id(index: int) -> int:
    """Order keys start at 10248 and leave gaps (every seventh number is missing)."""
    return 10248 + index + index // 6


def record(seed: int, set_name: str, index: int, sizes: dict[str, int]) -> dict[str, Any]:
    """The ``index``-th entity of a set (in key order)."""
    rng = _rng(seed, set_name, index)
    if set_name == "Customers":
        return {
            "CustomerID": f"C{index:04d}",
            "CompanyName": (
                "O'Brien & Sons" if index == 3 else f"Company {index} {rng.randint(1, 99)}"
            ),
            "Country": rng.choice(_COUNTRIES),
            "Phone": None if index % 5 == 0 else f"+49 30 {rng.randint(100000, 999999)}",
            "Since": (date(2010, 1, 1) + timedelta(days=rng.randint(0, 5000))).isoformat(),
        }
    if set_name in ("Orders", "PriorityOrders"):
        offset = 0 if set_name == "Orders" else 50_000
        moment = _EPOCH + timedelta(minutes=rng.randint(0, 500_000), seconds=rng.randint(0, 59))
        entity: dict[str, Any] = {
            "OrderID": order_id(index) + offset,
            "CustomerID": f"C{rng.randint(0, sizes.get('Customers', 91) - 1):04d}",
            "OrderDate": moment.isoformat().replace("+00:00", "Z"),
            "Freight": round(rng.uniform(1, 900), 2),
            "ShipCountry": rng.choice(_COUNTRIES),
            "Shipped": rng.random() < 0.8,
            "LastModified": modified_stamp(rng.randint(0, max(1, index // 4))),
        }
        if set_name == "PriorityOrders":
            entity["Priority"] = rng.randint(1, 5)
        return entity
    if set_name == "OrderLines":
        order, line = divmod(index, 3)  # three lines an order: (OrderID, LineNumber) is the key
        return {
            "OrderID": order_id(order),
            "LineNumber": line + 1,
            "ProductID": 7_000_000_000 + rng.randint(0, sizes.get("Products", 77) - 1),
            "Quantity": rng.randint(1, 40),
            "UnitPrice": round(rng.uniform(2, 260), 2),
        }
    return {
        "ProductID": 7_000_000_000 + index,
        "Name": f"Product {index}",
        "Price": None if index % 11 == 0 else round(rng.uniform(2, 260), 2),
        "Discontinued": index % 9 == 0,
        "Code": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
    }
