"""Typed Silver views that follow a template's syncs (``template add --views``).

A :class:`~cc_console.engine.runner.RunCompanion`: once a run of such a template succeeded,
the views of its resource are refreshed (``store.silver_views.refresh_resource``) so a new
property has its column right away. A refresh that cannot be done now — a view busy past
``lock_timeout``, a retyped column under dependent views — is logged, never fails the run;
``cc-console silver views`` says why.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from ..store.silver_views import ViewResult, refresh_resource, views_to_refresh

__all__ = ["SilverViews"]

logger = logging.getLogger(__name__)


class SilverViews:
    """Refreshes the views of a run's resource after it succeeded, where its template asks."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def started(self, run_id: uuid.UUID) -> None:
        """Nothing to do before the run ends."""

    async def finished(self, run_id: uuid.UUID) -> ViewResult | None:
        """Refresh the views when the run succeeded and its template says --views."""
        try:
            async with self.engine.connect() as conn:
                target = await views_to_refresh(conn, run_id)
            if target is None:
                return None
            config_id, resource_path = target
            async with self.engine.begin() as conn:
                result = await conn.run_sync(
                    lambda sync: refresh_resource(sync, config_id, resource_path)
                )
        except SQLAlchemyError as exc:
            logger.warning(
                "the Silver views of run %s were not refreshed (%s); run `cc-console silver views`",
                run_id,
                str(exc.orig or exc).splitlines()[0] if hasattr(exc, "orig") else exc,
            )
            return None
        if result is not None and result.action == "blocked":
            logger.warning(
                "%s.%s was not re-created for its retyped %s: %s depend on it; see"
                " `cc-console silver views`",
                result.schema,
                result.spec.name,
                ", ".join(result.retyped),
                ", ".join(result.dependents),
            )
        return result

    async def aclose(self) -> None:
        """Nothing is held between runs."""
