"""The home of ``cc_redaction_policy`` and ``cc_redaction_key``: policies per resource, the
key's HMAC pads the auditor's views use, and the SQL twin of the fingerprint for tests.

The pads are written from the key the command resolved (its secret reference): the database
never holds the key's reference or file, only what the views need. A superuser — or the role
that owns the tables — can read the pads and so fingerprint guesses; the auditor role cannot
(see migration 0019).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..odata.resources import resource_name
from ..redaction import Policy, Redactor, hmac_pads, key_id

__all__ = [
    "PolicyRow",
    "clear_policy",
    "install_key",
    "installed_key_id",
    "list_policies",
    "load_policies",
    "load_policies_async",
    "redactor",
    "set_policy",
    "set_policy_if_none",
    "silver_policy",
    "sql_fingerprint",
    "sql_redact_body",
]


@dataclass(frozen=True)
class PolicyRow:
    """One resource's policy, with the config's name."""

    config: str
    config_id: uuid.UUID
    resource_path: str
    paths: list[str]
    updated_by: str

    def as_dict(self) -> dict[str, Any]:
        """The row as JSON."""
        return {
            "config": self.config,
            "resource_path": self.resource_path,
            "paths": self.paths,
            "updated_by": self.updated_by,
        }


_UPSERT = text(
    """
    INSERT INTO cc_redaction_policy
        (config_id, resource_path, paths, steps, created_by, updated_by)
    VALUES (:config, :resource, CAST(:paths AS jsonb), CAST(:steps AS jsonb), :user, :user)
    ON CONFLICT (config_id, resource_path) DO UPDATE
       SET paths = EXCLUDED.paths, steps = EXCLUDED.steps, updated_at = now(),
           updated_by = EXCLUDED.updated_by
    """
)


def _policy_params(
    config_id: uuid.UUID, resource_path: str, policy: Policy, user: str
) -> dict[str, Any]:
    return {
        "config": config_id,
        "resource": resource_path,
        "paths": json.dumps(list(policy.paths)),
        "steps": json.dumps(policy.steps_json()),
        "user": user,
    }


def set_policy(
    conn: Connection, config_id: uuid.UUID, resource_path: str, policy: Policy, user: str
) -> None:
    """Create or replace the policy of one resource."""
    conn.execute(_UPSERT, _policy_params(config_id, resource_path, policy, user))


def set_policy_if_none(
    conn: Connection, config_id: uuid.UUID, resource_path: str, policy: Policy, user: str
) -> bool:
    """Give a resource ``policy`` unless it has one (an operator's choice stays); whether
    it was set."""
    inserted = conn.execute(
        text(
            "INSERT INTO cc_redaction_policy"
            " (config_id, resource_path, paths, steps, created_by, updated_by)"
            " VALUES (:config, :resource, CAST(:paths AS jsonb), CAST(:steps AS jsonb), :user,"
            " :user) ON CONFLICT (config_id, resource_path) DO NOTHING RETURNING id"
        ),
        _policy_params(config_id, resource_path, policy, user),
    ).scalar_one_or_none()
    return inserted is not None


def clear_policy(conn: Connection, config_id: uuid.UUID, resource_path: str) -> list[str] | None:
    """Remove a resource's policy; the paths it had, or None when it had none."""
    paths = conn.execute(
        text(
            "DELETE FROM cc_redaction_policy WHERE config_id = :c AND resource_path = :r"
            " RETURNING paths"
        ),
        {"c": config_id, "r": resource_path},
    ).scalar_one_or_none()
    return None if paths is None else list(paths)


_LIST = text(
    "SELECT c.name AS config, p.config_id, p.resource_path, p.paths, p.updated_by"
    " FROM cc_redaction_policy p JOIN cc_api_client_config c ON c.id = p.config_id"
    " ORDER BY c.name, p.resource_path"
)


def list_policies(conn: Connection) -> list[PolicyRow]:
    """Every policy, by config name and resource path."""
    return [
        PolicyRow(r.config, r.config_id, r.resource_path, list(r.paths), r.updated_by)
        for r in conn.execute(_LIST)
    ]


def _policies(rows: Any) -> dict[tuple[str, str], Policy]:
    return {(str(r.config_id), r.resource_path): Policy(tuple(r.paths)) for r in rows}


def load_policies(conn: Connection) -> dict[tuple[str, str], Policy]:
    """The policies keyed by (config id, resource path), as :class:`Redactor` takes them."""
    return _policies(conn.execute(_LIST))


async def load_policies_async(conn: AsyncConnection) -> dict[tuple[str, str], Policy]:
    """:func:`load_policies` on an async connection."""
    return _policies(await conn.execute(_LIST))


def silver_policy(conn: Connection, config_id: uuid.UUID, silver_path: str) -> Policy | None:
    """The policy of a Silver resource (``/subjects``): the union of the policies of the
    template paths that land there (``/studies/3/subjects/odata``, ``/subjects/odata``)."""
    paths = [
        path
        for (config, resource), policy in load_policies(conn).items()
        if config == str(config_id) and "/" + resource_name(resource) == silver_path
        for path in policy.paths
    ]
    return Policy(tuple(paths)) if paths else None


def redactor(conn: Connection, key: bytes) -> Redactor:
    """A redactor under ``key`` with the policies stored now."""
    return Redactor(key, load_policies(conn))


def installed_key_id(conn: Connection) -> str | None:
    """The id of the key whose pads the views use (None: none installed yet)."""
    found: str | None = conn.execute(
        text("SELECT key_id FROM cc_redaction_key WHERE id")
    ).scalar_one_or_none()
    return found


def install_key(conn: Connection, key: bytes, user: str) -> bool:
    """Give the views the pads of ``key``; True when they changed (a first or another key)."""
    identity = key_id(key)
    if installed_key_id(conn) == identity:
        return False
    ipad, opad = hmac_pads(key)
    conn.execute(
        text(
            "INSERT INTO cc_redaction_key (id, key_id, ipad, opad, installed_by)"
            " VALUES (true, :k, :i, :o, :u) ON CONFLICT (id) DO UPDATE"
            " SET key_id = EXCLUDED.key_id, ipad = EXCLUDED.ipad, opad = EXCLUDED.opad,"
            " installed_at = now(), installed_by = EXCLUDED.installed_by"
        ),
        {"k": identity, "i": ipad, "o": opad, "u": user},
    )
    return True


def sql_fingerprint(conn: Connection, value: Any) -> str:
    """The database's fingerprint of a JSON value (what the auditor's views write)."""
    found: str = conn.execute(
        text("SELECT cc_redaction.mark(CAST(:v AS jsonb)) #>> '{}'"), {"v": json.dumps(value)}
    ).scalar_one()
    return found


def sql_redact_body(conn: Connection, body: Any, policy: Policy) -> Any:
    """A body redacted by the database under ``policy``."""
    return conn.execute(
        text("SELECT cc_redaction.body(CAST(:b AS jsonb), CAST(:p AS jsonb))"),
        {"b": json.dumps(body), "p": json.dumps(policy.steps_json())},
    ).scalar_one()
