"""Where the browser client and the page templates are: next to the package, not the working
directory, so `realtime serve` works from anywhere (source checkout or installed copy)."""

from __future__ import annotations

from pathlib import Path


def resource_dir(name: str) -> Path:
    """`static/` or `templates/`, inside the package or beside it."""
    package = Path(__file__).resolve().parent.parent  # realtime/, above realtime/web/
    for candidate in (package / name, package.parent / name):
        if candidate.is_dir():
            return candidate
    return package.parent / name


def static_dir() -> Path:
    """The browser client (and its message catalogs in static/i18n/)."""
    return resource_dir("static")


def templates_dir() -> Path:
    """The Jinja2 templates of the server-rendered pages."""
    return resource_dir("templates")
