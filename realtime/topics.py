"""The names of the hub's topics: shared by the service that publishes and the live layer.

One topic per article's thread, one per article's count, one for the moderators' queue. They sit
below both the service and the hubs, so that neither has to import the other for a name.
"""

from __future__ import annotations

ADMIN_TOPIC = "admin"


def article_topic(slug: str) -> str:
    return f"article:{slug}"


COUNT_PREFIX = "count:"


def count_topic(slug: str) -> str:
    return f"{COUNT_PREFIX}{slug}"
