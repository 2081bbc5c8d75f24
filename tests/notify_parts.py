"""Real parts for notification tests: an SMTP server (aiosmtpd), an SMTP server that never
answers, and a webhook receiver (Starlette under uvicorn) that verifies each signature."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.servers import UNIT, free_port

PUBLIC_URL = "https://comments.example"
SECRET = "receiver-secret-0123456789"
REPLAY_WINDOW = 300


class Mailbox:
    """The handler of a real aiosmtpd server on 127.0.0.1: keeps each message it accepts.
    `refuse` answers every message with that reply instead (e.g. a 554)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []
        self.refuse: str | None = None
        self.tries = 0
        self.port = 0  # set by the SmtpServer that serves it

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.tries += 1
        if self.refuse:
            return self.refuse
        content = envelope.content
        assert isinstance(content, bytes)
        self.raw.append(content)
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [message for message in self.messages if message["To"] == address]


class SmtpServer:
    def __init__(self, mailbox: Mailbox) -> None:
        self.port = free_port()  # aiosmtpd checks the port it was given: 0 does not work
        mailbox.port = self.port
        self.controller = Controller(mailbox, hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


class SilentSmtp:
    """Accepts connections and never says a word: an SMTP server that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port: int = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes accept() in the thread
        self.sock.close()
        self.thread.join(timeout=10 * UNIT)
        for conn in self.held:
            conn.close()


@dataclass
class Delivery:
    event: str
    key: str
    body: bytes


@dataclass
class Receiver:
    """A webhook endpoint: POST /hook, signature checked as a receiver should (HMAC over
    "<t>.<raw body>", timestamp within five minutes). Can be stopped and started on its port."""

    secret: str = SECRET
    port: int = field(default_factory=free_port)
    deliveries: list[Delivery] = field(default_factory=list)
    forged: int = 0
    status: int = 200
    hold: threading.Event | None = None  # while set-up, requests hang until it is set
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def keys(self) -> list[str]:
        return [delivery.key for delivery in self.deliveries]

    async def _hook(self, request: Request) -> Response:
        body = await request.body()
        if not verify(self.secret, request.headers.get("x-realtime-signature", ""), body):
            self.forged += 1
            return Response(status_code=401)
        if self.hold is not None:
            while not self.hold.is_set():
                await asyncio.sleep(0.02)
        event = request.headers["x-realtime-event"]
        self.deliveries.append(Delivery(event, request.headers["x-realtime-delivery"], body))
        return Response(status_code=self.status)

    def start(self) -> Receiver:
        app = Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10 * UNIT
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("receiver did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(timeout=10 * UNIT)
            self.server = None


def verify(secret: str, header: str, body: bytes) -> bool:
    """What a receiver does with X-Realtime-Signature: t=…,v1=…"""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if not parts.get("t", "").isdigit() or "v1" not in parts:
        return False
    if abs(time.time() - int(parts["t"])) > REPLAY_WINDOW:
        return False
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), parts["v1"])


def local(url: str, server_url: str) -> str:
    """A link from a mail (made with PUBLIC_URL) pointed at the server under test."""
    parts = urlsplit(url)
    return f"{server_url}{parts.path}?{parts.query}"


def links(message: EmailMessage) -> dict[str, str]:
    """The signed links in a mail's plain-text part, by purpose."""
    part = message.get_body(("plain",))
    assert part is not None
    found: dict[str, str] = {}
    for word in part.get_content().split():
        if word.startswith(f"{PUBLIC_URL}/notify/"):
            found[urlsplit(word).path.rsplit("/", 1)[1]] = word
    return found


def outbox(db: Path | str) -> list[tuple[Any, ...]]:
    """(id, channel, event, state, attempts, last_error) of every outbox row."""
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT id, channel, event, state, attempts, last_error FROM outbox ORDER BY id"
        ).fetchall()


def settled(db: Path | str) -> bool:
    """Nothing in the outbox is waiting to be sent."""
    return all(row[3] != "pending" for row in outbox(db))
