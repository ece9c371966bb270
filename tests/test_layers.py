"""The one-way imports of DESIGN.md, enforced by reading the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cc_console"

# layer -> project layers it must never import
FORBIDDEN = {
    "odata": {"store", "client", "engine", "tui", "sim", "migrate", "reports", "commands", "cli"},
    "store": {"client", "engine", "tui", "sim", "migrate", "reports", "commands", "cli"},
    "client": {"engine", "tui", "sim", "migrate", "reports", "commands", "cli"},
    # the cutover goes along with runs as a companion its starter gives; the engine never knows
    "engine": {"tui", "sim", "migrate", "commands", "cli"},
    "sim": {"client", "odata", "store", "engine", "tui", "commands", "cli"},
    # the console reads the store and asks the engine; it never talks HTTP or runs the simulator
    "tui": {"client", "sim", "migrate", "commands", "cli"},
    "reports": {"client", "engine", "tui", "sim", "migrate", "commands", "cli"},
    "migrate": {"engine", "tui", "sim", "reports", "commands", "cli"},
    # workers run the engine's runs from procrastinate's jobs; commands start them
    "workers": {"client", "tui", "sim", "reports", "commands", "cli"},
}
TEXTUAL_FREE = {"odata", "store", "client", "engine", "sim", "reports", "migrate", "workers"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    relative_base = path.relative_to(PACKAGE).parts[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = list(relative_base)[: len(relative_base) - node.level + 1]
                module = ".".join(["cc_console", *parts, *(node.module or "").split(".")])
                found.add(module.rstrip("."))
            elif node.module:
                found.add(node.module)
    return found


def layer_files(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py")) if (PACKAGE / layer).is_dir() else []


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_point_down(layer: str) -> None:
    for path in layer_files(layer):
        for module in imports_of(path):
            parts = module.split(".")
            if parts[0] != "cc_console" or len(parts) < 2:
                continue
            assert parts[1] not in FORBIDDEN[layer], f"{path.name} imports {module}"


def test_odata_imports_nothing_of_the_project() -> None:
    for path in layer_files("odata"):
        for module in imports_of(path):
            if module.startswith("cc_console"):
                assert module.startswith("cc_console.odata"), f"{path.name} imports {module}"


@pytest.mark.parametrize("layer", sorted(TEXTUAL_FREE))
def test_core_is_textual_free(layer: str) -> None:
    for path in layer_files(layer):
        assert not any(m.split(".")[0] == "textual" for m in imports_of(path)), path.name


def test_settings_are_the_only_environment_reader() -> None:
    for path in PACKAGE.rglob("*.py"):
        if path.name == "secrets.py":  # env: references are resolved there, by design
            continue
        source = path.read_text(encoding="utf-8")
        assert "os.environ" not in source and "os.getenv" not in source, path.name


def test_the_engine_client_console_and_commands_write_no_sql() -> None:
    """They ask the tables' homes in store/ (and migrate/ for the legacy store)."""
    for layer in ("engine", "client", "tui", "commands", "workers"):
        for path in layer_files(layer):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and (node.module or "") == "sqlalchemy":
                    names = {alias.name for alias in node.names}
                    assert "text" not in names, f"{path.relative_to(PACKAGE)} writes SQL"


def test_the_checker_sees_relative_imports() -> None:
    found = imports_of(PACKAGE / "store" / "database.py")
    assert "cc_console.settings" in found and "cc_console.errors" in found
