"""Typer sub-applications of the ``cc-console`` command line."""
