"""A collapsible tree for big JSON bodies; children are built only when a node is opened."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

__all__ = ["JsonTree"]

CHILD_CAP = 500


def _label(key: str, value: Any) -> Text:
    text = Text(key, style="bold")
    if isinstance(value, dict):
        text.append(f" {{{len(value)}}}", style="dim")
    elif isinstance(value, list):
        text.append(f" [{len(value)}]", style="dim")
    else:
        text.append(": ")
        text.append(
            repr(value)
            if isinstance(value, str)
            else str(value).lower()
            if isinstance(value, bool) or value is None
            else str(value),
            style="green" if isinstance(value, str) else "cyan",
        )
    return text


class JsonTree(Tree[Any]):
    """``JsonTree(body)``: the root is open, everything below opens on demand."""

    def __init__(self, body: Any, **kwargs: Any) -> None:
        super().__init__(_label("body", body), data=body, **kwargs)
        self._built: set[int] = set()

    def on_mount(self) -> None:
        self._populate(self.root)
        self.root.expand()

    def _populate(self, node: TreeNode[Any]) -> None:
        if node.id in self._built:
            return
        self._built.add(node.id)
        value = node.data
        items = list(value.items()) if isinstance(value, dict) else list(enumerate(value or ()))
        for key, child in items[:CHILD_CAP]:
            if isinstance(child, dict | list):
                node.add(_label(str(key), child), data=child)
            else:
                node.add_leaf(_label(str(key), child))
        if len(items) > CHILD_CAP:
            node.add_leaf(Text(f"… {len(items) - CHILD_CAP:,} more", style="dim"))

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[Any]) -> None:
        self._populate(event.node)
