"""Mails built with the standard `email` package: a plain-text part and an HTML alternative.

Each mail goes to one address and names no other: the reply mail shows the replies' names and
text, never an address. Reply and confirmation mails carry a one-click unsubscribe link and the
`List-Unsubscribe` / `List-Unsubscribe-Post` headers (RFC 8058). The idempotency key is in
`X-Realtime-Delivery` and in the `Message-ID`, so a repeated delivery is recognisably the same
mail. Links are signed here, at sending time (`signing`); moderator links expire.
"""

from __future__ import annotations

import html
import time
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from urllib.parse import quote

from realtime.config import Settings
from realtime.models import Comment, PendingComment
from realtime.notify.signing import sign_link
from realtime.store.notices import AnyMail, ConfirmMail, ModeratorMail, ReplyMail

CONFIRM_DAYS = 7
EXCERPT = 2000


class Composer:
    def __init__(self, settings: Settings, key: bytes) -> None:
        self.settings = settings
        self.key = key
        self.base = settings.public_url.rstrip("/")
        self.domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "localhost"

    def compose(self, job: AnyMail, to: str, delivery: str) -> EmailMessage:
        unsubscribe: str | None
        match job:
            case ConfirmMail():
                subject, text, unsubscribe = self._confirm(job)
            case ReplyMail():
                subject, text, unsubscribe = self._reply(job)
            case ModeratorMail():
                (subject, text), unsubscribe = self._moderator(job), None
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = to
        message["Subject"] = " ".join(subject.split())
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = f"<{delivery}@{self.domain}>"
        message["X-Realtime-Delivery"] = delivery
        message["Auto-Submitted"] = "auto-generated"
        if unsubscribe is not None:
            message["List-Unsubscribe"] = f"<{unsubscribe}>"
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
            text += [f"Stop these mails: {unsubscribe}"]
        message.set_content("\n\n".join(text) + "\n")
        message.add_alternative(_html(text, self.base + "/"), subtype="html")
        return message

    def link(self, purpose: str, subject: int, expires: int = 0) -> str:
        token = sign_link(self.key, purpose, subject, expires)
        return f"{self.base}/notify/{purpose}?token={quote(token)}"

    def comment_url(self, article: str, comment_id: int) -> str:
        return f"{self.base}/articles/{quote(article)}#comment-{comment_id}"

    # ---- the three mails: (subject, paragraphs, unsubscribe link) ------------------------

    def _confirm(self, job: ConfirmMail) -> tuple[str, list[str], str]:
        expires = int(time.time()) + CONFIRM_DAYS * 86400
        confirm = self.link("confirm", job.subscriber, expires)
        text = [
            "You asked to be told by e-mail when someone replies to your comment.",
            f"Confirm that this is your address: {confirm}",
            "If it was not you, ignore this mail: nothing more will be sent.",
        ]
        return "Confirm your e-mail for reply notifications", text, self._unsubscribe(job)

    def _reply(self, job: ReplyMail) -> tuple[str, list[str], str]:
        many = len(job.replies) > 1
        subject = f"{len(job.replies)} new replies" if many else f"{job.replies[0].author} replied"
        text = [f"New {'replies' if many else 'reply'} to your comment on “{job.title}”:"]
        for reply in job.replies:
            text += _quoted(reply), f"Read it: {self.comment_url(job.article, reply.id)}"
        return f"{subject} on “{job.title}”", text, self._unsubscribe(job)

    def _moderator(self, job: ModeratorMail) -> tuple[str, list[str]]:
        comment = job.comment
        expires = int(time.time() + self.settings.moderation_link_hours * 3600)
        text = [
            f"A comment on “{job.title}” is waiting for a moderator ({comment.reason}):",
            _quoted(comment),
            f"Approve: {self.link('approve', comment.id, expires)}",
            f"Reject: {self.link('reject', comment.id, expires)}",
            f"These links work until {formatdate(expires, usegmt=True)}.",
        ]
        return f"Comment to moderate on “{job.title}”", text

    def _unsubscribe(self, job: ConfirmMail | ReplyMail) -> str:
        return self.link("unsubscribe", job.subscriber)


def _quoted(comment: Comment | PendingComment) -> str:
    body = comment.body if len(comment.body) <= EXCERPT else comment.body[:EXCERPT] + "…"
    return f"{comment.author} wrote:\n\n{body}"


def _html(paragraphs: list[str], ours: str) -> str:
    """The same text as HTML: every character escaped, newlines kept, and our own links (only
    those: a commenter's links stay text) made clickable."""
    parts = []
    for paragraph in paragraphs:
        words = [_linked(word, ours) for word in html.escape(paragraph).split(" ")]
        parts.append("<p>" + " ".join(words).replace("\n", "<br>\n") + "</p>")
    return (
        '<!doctype html><html><body style="font-family:sans-serif">'
        + "".join(parts)
        + ("</body></html>\n")
    )


def _linked(word: str, ours: str) -> str:
    if word.startswith(html.escape(ours)) and not any(char.isspace() for char in word):
        return f'<a href="{word}">{word}</a>'
    return word
