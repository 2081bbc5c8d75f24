"""realtime: live comment threads stored in SQLite and pushed over WebSockets."""

from __future__ import annotations

__version__ = "0.1.0"
