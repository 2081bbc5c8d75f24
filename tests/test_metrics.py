"""GET /metrics: the Prometheus text a scraper reads, with figures that move."""

from __future__ import annotations

import re

import httpx

from tests.conftest import post_comment
from tests.servers import ThreadServer
from tests.wsclient import Reader


def value(text: str, name: str) -> float:
    match = re.search(rf"^{name} ([0-9.e+]+)$", text, re.MULTILINE)
    assert match, f"{name} missing"
    return float(match.group(1))


async def test_metrics_follow_activity(
    server: ThreadServer, client: httpx.AsyncClient, article: str
) -> None:
    """Readers, events, deliveries, comments, commits and latencies are all exported."""
    readers = [await Reader.open(f"{server.ws_url}/ws/articles/{article}") for _ in range(3)]
    for reader in readers:
        await reader.next()
    for n in range(4):
        assert (await post_comment(client, article, body=f"m{n}")).status_code == 201
    for reader in readers:
        await reader.comments(4)
    response = await client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert value(text, "realtime_readers") == 3
    assert value(text, "realtime_comments_posted_total") == 4
    assert value(text, "realtime_deliveries_total") >= 12
    assert value(text, "realtime_events_published_total") >= 8  # comment + count events
    assert value(text, "realtime_group_commit_jobs_total") >= 5  # the article and 4 comments
    assert value(text, "realtime_db_commit_seconds_count") >= 1
    assert 'realtime_http_request_seconds_count{method="POST",status="201"} 4.0' in text
    assert value(text, "realtime_slow_readers_closed_total") == 0
    for reader in readers:
        await reader.close()
