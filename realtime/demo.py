"""The demo article a fresh install serves: a short news story with a few reader comments."""

from __future__ import annotations

from realtime.models import ArticleIn, CommentIn
from realtime.service import CommentService

SLUG = "harbour-bridge-reopens"
TITLE = "Harbour bridge reopens after two years of repairs"
URL = "https://news.example/2026/11/harbour-bridge-reopens"

COMMENTS = [
    (
        "Ingrid Søberg",
        "Finally! I cycled across this morning and it’s smoother than it has ever been.\n\n"
        "The new lighting on the footpath is a real improvement — you can actually see the "
        "expansion joints now.",
        None,
    ),
    (
        "José Álvarez",
        "Two years and “only” 12 % over budget, according to the council’s own report.\n\n"
        "I’d like to see the figures for the temporary ferry too: was it ever full?\n"
        "Every crossing I took had maybe a dozen people on it.",
        None,
    ),
    (
        "Zoë Kowalczyk",
        "The ferry was packed at rush hour, José — the quiet runs were mid-afternoon.\n\n"
        "Still, fair question about the budget.",
        1,  # a reply to the comment at this index
    ),
    (
        "Łukasz Nowak",
        "Does anyone know whether the bus lanes are back in both directions?\n\n"
        "The article says “most lanes”, which isn’t quite the same thing.",
        None,
    ),
]


async def seed_demo(service: CommentService) -> None:
    """Create the demo article with its comments, unless it already exists."""
    if await service.store.get_article(SLUG) is not None:
        return
    await service.put_article(SLUG, ArticleIn(title=TITLE, url=URL))
    ids: list[int] = []
    for author, body, reply_to in COMMENTS:
        parent = ids[reply_to] if reply_to is not None else None
        created = await service.post(SLUG, CommentIn(author=author, body=body, parent=parent))
        ids.append(created.comment.id)
