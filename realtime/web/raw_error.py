"""An error in the API's shape as raw HTTP/1.1 bytes, for the protocol layer to write itself.

Some answers leave before there is an ASGI request to answer (a connection past the open-file
limit, a request the HTTP parser cannot read): they still get the error shape of docs/API.md, as
a complete response that closes the connection.
"""

from __future__ import annotations

from http import HTTPStatus

import msgspec

from realtime.errors import AppError


def raw_error(error: AppError) -> bytes:
    body = msgspec.json.encode(error.body())
    retry = f"retry-after: {error.retry_after}\r\n" if error.retry_after is not None else ""
    head = (
        f"HTTP/1.1 {error.status} {HTTPStatus(error.status).phrase}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n{retry}"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body
