"""Reading a WordPress export (WXR, RSS 2.0 with `wp:` elements): posts and their comments.

Safety: a WXR file has no DOCTYPE, so a document with one is refused before any entity it
declares could be expanded (no "billion laughs", no external entities); expat's own
amplification limit stands behind that. Only the elements named here are read.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any


class WxrError(ValueError):
    """The file is not a WXR export this reader accepts; the message says why."""


@dataclass(frozen=True, kw_only=True)
class WxrComment:
    id: int
    parent: int | None
    author: str
    email: str
    date_gmt: str  # "YYYY-MM-DD HH:MM:SS", UTC
    date: str  # the site's local time, for the rare export without a GMT date
    content: str  # WordPress's stored text: may hold a little HTML
    approved: str  # "1", "0", "spam", "trash"
    type: str  # "" or "comment" for readers' comments; "pingback", "trackback"


@dataclass(frozen=True, kw_only=True)
class WxrPost:
    id: int
    title: str
    link: str
    name: str  # wp:post_name, the slug WordPress used (may be percent-encoded)
    date_gmt: str
    post_type: str
    comments: list[WxrComment] = field(default_factory=list)


class _NoDoctype(ET.TreeBuilder):
    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise WxrError("the file declares a DOCTYPE; a WordPress export has none")


def read_wxr(path: str | Path) -> list[WxrPost]:
    parser = ET.XMLParser(target=_NoDoctype())
    try:
        with Path(path).open("rb") as handle:
            while chunk := handle.read(1 << 16):
                parser.feed(chunk)
        root: Any = parser.close()
    except ET.ParseError as exc:
        raise WxrError(f"not well-formed XML: {exc}") from None
    channel = root.find("channel")
    if root.tag != "rss" or channel is None:
        raise WxrError("not a WordPress export (no <rss><channel>)")
    return [_post(item) for item in channel.iterfind("item")]


def _text(element: ET.Element, name: str, strip: bool = True) -> str:
    """The text of the first child with this local name (`{*}`: any namespace version, or none)."""
    child = element.find(f"{{*}}{name}")
    text = (child.text or "") if child is not None else ""
    return text.strip() if strip else text


def _int(text: str) -> int:
    return int(text) if text.isdigit() else 0


def _post(item: ET.Element) -> WxrPost:
    return WxrPost(
        id=_int(_text(item, "post_id")),
        title=_text(item, "title"),
        link=_text(item, "link"),
        name=_text(item, "post_name"),
        date_gmt=_text(item, "post_date_gmt"),
        post_type=_text(item, "post_type") or "post",
        comments=[_comment(element) for element in item.iterfind("{*}comment")],
    )


def _comment(element: ET.Element) -> WxrComment:
    parent = _int(_text(element, "comment_parent"))
    return WxrComment(
        id=_int(_text(element, "comment_id")),
        parent=parent or None,
        author=_text(element, "comment_author"),
        email=_text(element, "comment_author_email"),
        date_gmt=_text(element, "comment_date_gmt"),
        date=_text(element, "comment_date"),
        content=_text(element, "comment_content", strip=False),
        approved=_text(element, "comment_approved"),
        type=_text(element, "comment_type"),
    )


class _PlainText(HTMLParser):
    """WordPress comment HTML as plain text: tags dropped, entities decoded, breaks kept."""

    BREAKS = {"br": "\n", "p": "\n\n", "div": "\n", "li": "\n", "blockquote": "\n\n"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag != "br" and tag in self.BREAKS:
            self.parts.append(self.BREAKS[tag])


def plain_text(html: str) -> str:
    """Paragraphs separated by blank lines, as the API's bodies are; no NUL characters."""
    parser = _PlainText()
    parser.feed(html.replace("\r\n", "\n"))
    parser.close()
    text = "".join(parser.parts).replace("\x00", "")
    lines = [line.rstrip() for line in text.split("\n")]
    paragraphs = "\n".join(lines).split("\n\n")
    return "\n\n".join(part.strip("\n") for part in paragraphs if part.strip()).strip()
