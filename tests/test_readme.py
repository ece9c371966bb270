"""The README's front door stays true: CI runs its test command verbatim."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command() -> None:
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    marker = ci_lines.index(next(line for line in ci_lines if "README's test command" in line))
    command = ci_lines[marker + 1].strip()
    readme = (ROOT / "README.md").read_text()
    assert command.startswith("python3 -m venv .venv")
    assert f"\n{command}\n" in readme


def test_readme_quick_start_has_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = quick.split("```")[1::2]
    commands = [line for block in blocks for line in block.splitlines()[1:] if line.strip()]
    assert len(commands) == 2, commands
