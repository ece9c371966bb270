"""``POST /__sim/change``: records change as time goes on — updates (with deliberate ties),
inserts and deletes — on a Clinical Conductor resource or an OData v4 entity set.

Body: ``{"resource": "studies", "update": 10, "insert": 2, "delete": 1, "tie": true}`` or
``{"resource": "Orders", "ids": [10250, 10251]}``. The answer (and ``/__sim/stats``'s
``changes``) says what changed, with the new modification stamp.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .dataset import Dataset
from .odata4 import ODataService
from .odata4.model import SETS

__all__ = ["SimChange"]


class SimChange(BaseModel):
    """One batch of changes, applied now."""

    model_config = ConfigDict(extra="forbid")

    resource: str
    update: int = Field(0, ge=0)
    insert: int = Field(0, ge=0)
    delete: int = Field(0, ge=0)
    ids: list[int] = Field(default_factory=list)  # update exactly these (ids or keys)
    tie: bool = False  # one modification stamp for every record this batch touches

    def apply(self, dataset: Dataset, service: ODataService) -> dict[str, Any]:
        """Change the data; what changed (KeyError: no such resource)."""
        counts = {"update": self.update, "insert": self.insert, "delete": self.delete}
        ids = self.ids or None
        if self.resource in dataset.tables:
            return dataset.change(self.resource, **counts, ids=ids, tie=self.tie)
        if self.resource in SETS:
            changed = service.change(self.resource, **counts, ids=ids, tie=self.tie)
            return dataset.log_change(self.resource, **changed)
        raise KeyError(f"no resource or entity set {self.resource!r}")
