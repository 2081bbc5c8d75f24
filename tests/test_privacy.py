"""The e-mail address never leaves the server: not in a response, an event, a page or a log line."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, post_comment
from tests.wsclient import Reader

EMAIL = "Secret.Reader@example.org"


def leaks(text: str) -> bool:
    lowered = text.lower()
    return EMAIL.lower() in lowered or "secret.reader" in lowered


async def test_email_never_leaves(start_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    """Every body, header, WebSocket frame and log line of a full session is free of the e-mail."""
    caplog.set_level(logging.DEBUG)
    server = start_server(log_level="debug")
    seen: list[str] = []
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:

        async def call(method: str, url: str, **kwargs: Any) -> httpx.Response:
            response = await http.request(method, url, **kwargs)
            seen.append(response.text)
            seen.append(str(response.headers))
            return response

        admin = {"Authorization": f"Bearer {ADMIN}"}
        await call("PUT", "/api/articles/privacy", json={"title": "Privacy"}, headers=admin)
        counts = await Reader.open(f"{server.ws_url}/ws/counts?articles=privacy")
        reader = await Reader.open(f"{server.ws_url}/ws/articles/privacy")
        created = await post_comment(http, "privacy", email=EMAIL, body="hello")
        seen += [created.text, str(created.headers)]
        comment_id = created.json()["comment"]["id"]
        auth = {"Authorization": f"Bearer {created.json()['token']}"}
        await call(
            "POST",
            "/api/articles/privacy/comments",
            json={"author": "x", "body": "reply", "email": EMAIL, "parent": comment_id},
        )
        await call(
            "POST",
            "/api/articles/privacy/comments",
            json={"author": "x", "body": "y", "email": EMAIL + "x" * 300},
        )
        await call(
            "POST",
            "/api/articles/privacy/comments",
            json={"author": "x", "body": "y", "email": EMAIL, "parent": 999},
        )
        await call("PATCH", f"/api/comments/{comment_id}", json={"body": "edited"}, headers=auth)
        for url in (
            "/api/articles",
            "/api/articles/privacy",
            "/api/articles/privacy/comments",
            f"/api/comments/{comment_id}",
            "/api/counts?articles=privacy",
            "/",
            "/articles/privacy",
        ):
            await call("GET", url)
        await call("DELETE", f"/api/comments/{comment_id}", headers=auth)
        resumed = await Reader.open(f"{server.ws_url}/ws/articles/privacy?after=0")
        for client in (reader, resumed):
            await client.next()
        await reader.comments(2)
        await reader.next_of("edit")
        await reader.next_of("delete")
        await resumed.comments(1)
        await counts.next()
        for client in (reader, resumed, counts):
            seen += [str(event) for event in client.events]
            await client.close()
    assert len(reader.events) >= 5
    assert any("comment published" in record.getMessage() for record in caplog.records)
    assert not [text for text in seen if leaks(text)]
    assert not [record.getMessage() for record in caplog.records if leaks(record.getMessage())]
    assert not leaks(caplog.text)
