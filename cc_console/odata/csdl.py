"""Reading an OData v4 ``$metadata`` document (CSDL XML): entity sets, their keys and types.

``$metadata`` is untrusted input from a server: the document is capped in size, refused when
it declares a DTD or entities (no entity expansion, no external references — XML that needs
them is no CSDL), and refused with one line when it is not CSDL at all.

Keys follow the spec: an entity set names its type by namespace or alias; the key is
declared by the type or, through ``BaseType``, by the root of its hierarchy; properties are
the type's own and its bases'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.etree import ElementTree

__all__ = ["MAX_METADATA_BYTES", "EntitySet", "MetadataError", "parse_metadata"]

MAX_METADATA_BYTES = 8 * 1024 * 1024
_EDMX = "http://docs.oasis-open.org/odata/ns/edmx"
_EDM = "http://docs.oasis-open.org/odata/ns/edm"
_DECLARATIONS = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


class MetadataError(ValueError):
    """The document is not CSDL we can read (the message says why, in one line)."""


@dataclass(frozen=True)
class EntitySet:
    """An entity set of the service: its type, key properties (in order) and property types."""

    name: str
    entity_type: str  # the qualified name, Namespace.Type
    key: tuple[str, ...]
    properties: dict[str, str] = field(default_factory=dict)  # name -> Edm type
    nullable: frozenset[str] = frozenset()

    def schema(self) -> dict[str, object]:
        """What a template stores of it (``record_schema``)."""
        return {
            "entity_type": self.entity_type,
            "properties": dict(self.properties),
            "nullable": sorted(self.nullable),
        }


@dataclass
class _Type:
    name: str
    base: str | None
    key: tuple[str, ...]
    properties: dict[str, str]
    nullable: set[str]


def _tag(element: ElementTree.Element) -> tuple[str, str]:
    namespace, _, local = element.tag.rpartition("}")
    return namespace.lstrip("{"), local


def parse_metadata(document: bytes) -> dict[str, EntitySet]:
    """The entity sets of a CSDL document, by name."""
    if len(document) > MAX_METADATA_BYTES:
        raise MetadataError(
            f"$metadata is {len(document):,} bytes, over the {MAX_METADATA_BYTES:,}-byte cap"
        )
    if _DECLARATIONS.search(document):
        raise MetadataError("$metadata declares a DTD or entities: refused (CSDL needs neither)")
    try:
        root = ElementTree.fromstring(document)
    except ElementTree.ParseError as exc:
        raise MetadataError(f"$metadata is not XML: {exc}") from None
    if _tag(root) != (_EDMX, "Edmx"):
        raise MetadataError("$metadata is XML but not CSDL (no edmx:Edmx root)")
    types: dict[str, _Type] = {}
    aliases: dict[str, str] = {}
    sets: list[tuple[str, str]] = []
    for schema in root.iter(f"{{{_EDM}}}Schema"):
        namespace = schema.get("Namespace")
        if not namespace:
            raise MetadataError("a CSDL Schema has no Namespace")
        if schema.get("Alias"):
            aliases[schema.get("Alias", "")] = namespace
        for element in schema:
            kind = _tag(element)[1]
            if kind == "EntityType" and element.get("Name"):
                types[f"{namespace}.{element.get('Name')}"] = _entity_type(element, namespace)
            elif kind == "EntityContainer":
                for entity_set in element:
                    if _tag(entity_set)[1] == "EntitySet":
                        sets.append((entity_set.get("Name", ""), entity_set.get("EntityType", "")))
    if not sets:
        raise MetadataError("$metadata declares no entity sets")
    return {name: _resolve(name, type_name, types, aliases) for name, type_name in sets}


def _qualified(name: str, aliases: dict[str, str]) -> str:
    prefix, _, local = name.rpartition(".")
    return f"{aliases.get(prefix, prefix)}.{local}"


def _entity_type(element: ElementTree.Element, namespace: str) -> _Type:
    key: list[str] = []
    properties: dict[str, str] = {}
    nullable: set[str] = set()
    for child in element:
        kind = _tag(child)[1]
        if kind == "Key":
            # a PropertyRef's Alias names a key property inside a complex type: the payload
            # carries it under that alias
            key += [ref.get("Alias") or ref.get("Name") or "" for ref in child]
        elif kind == "Property" and child.get("Name"):
            properties[child.get("Name", "")] = child.get("Type", "Edm.String")
            if child.get("Nullable", "true").lower() != "false":
                nullable.add(child.get("Name", ""))
    return _Type(element.get("Name", ""), element.get("BaseType"), tuple(key), properties, nullable)


def _resolve(
    name: str, type_name: str, types: dict[str, _Type], aliases: dict[str, str]
) -> EntitySet:
    qualified = _qualified(type_name, aliases)
    chain: list[_Type] = []
    current: str | None = qualified
    while current is not None:
        found = types.get(current)
        if found is None or found in chain:
            raise MetadataError(f"entity set {name}: type {current} is not declared")
        chain.append(found)
        current = _qualified(found.base, aliases) if found.base else None
    key = next((t.key for t in reversed(chain) if t.key), ())
    if not key:
        raise MetadataError(f"entity set {name}: type {qualified} declares no key")
    properties: dict[str, str] = {}
    nullable: set[str] = set()
    for entity_type in reversed(chain):  # the root first, each derived type adds its own
        properties.update(entity_type.properties)
        nullable |= entity_type.nullable
    return EntitySet(name, qualified, key, properties, frozenset(nullable))
