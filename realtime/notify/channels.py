"""The two ways out: SMTP through aiosmtplib, and webhook POSTs through httpx.

aiosmtplib is a maintained asyncio SMTP client (STARTTLS, implicit TLS, AUTH); httpx is already
the project's HTTP client. Each call either returns (delivered) or raises `DeliveryError` with a
reason the outbox keeps; the sender puts a time limit around each attempt.
"""

from __future__ import annotations

import time
from email.message import EmailMessage

import aiosmtplib
import httpx

from realtime.config import Settings, Webhook
from realtime.notify.signing import webhook_signature


class DeliveryError(Exception):
    """One attempt failed; the message says why (it is stored, so it never holds an address)."""


async def send_mail(settings: Settings, message: EmailMessage, timeout: float) -> None:
    if not settings.smtp_host:
        raise DeliveryError("mail is not configured (smtp_host is empty)")
    client = aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_user or None,
        password=settings.smtp_password or None,
        use_tls=settings.smtp_tls == "tls",
        start_tls=settings.smtp_tls == "starttls",
        timeout=timeout,
    )
    try:
        await client.connect()
        await client.send_message(message)
        await client.quit()
    except aiosmtplib.SMTPResponseException as exc:
        raise DeliveryError(f"SMTP {exc.code}: {exc.message}") from None
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP: {type(exc).__name__}: {exc}") from None
    finally:
        client.close()  # also when the sender's time limit cancels us mid-way


async def post_webhook(
    client: httpx.AsyncClient, hook: Webhook, event: str, body: bytes, delivery: str
) -> None:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "realtime-webhooks",
        "X-Realtime-Event": event,
        "X-Realtime-Delivery": delivery,
        "X-Realtime-Signature": webhook_signature(hook.secret, int(time.time()), body),
    }
    try:
        response = await client.post(hook.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"HTTP: {type(exc).__name__}: {exc}") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"HTTP {response.status_code} from the receiver")
