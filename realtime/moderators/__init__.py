"""Moderators and privacy: who may moderate, what they did, whom they banned, which words a
comment may not carry, and a commenter's right to their data and to be forgotten.

- `actors`: the owner and named moderators, their tokens, the live sessions revocation ends
- `bans`: bans by network and e-mail, made from a comment, matched on every post
- `words`: the hold and refuse word lists, matched on whole words, case- and accent-free
- `privacy`: a commenter's data, exported or forgotten

The SQL is in `realtime.store` (`moderators`, `bans`, `audit`, `privacy`); every action writes its
audit row in its own transaction.
"""

from __future__ import annotations

from realtime.moderators.actors import (
    CLI_ACTOR,
    MAIL_LINK_ACTOR,
    OWNER_ACTOR,
    Actor,
    Moderators,
    hash_token,
)
from realtime.moderators.bans import Bans, Client
from realtime.moderators.privacy import Privacy, Publishers
from realtime.moderators.words import WordRules

__all__ = [
    "CLI_ACTOR",
    "MAIL_LINK_ACTOR",
    "OWNER_ACTOR",
    "Actor",
    "Bans",
    "Client",
    "Moderators",
    "Privacy",
    "Publishers",
    "WordRules",
    "hash_token",
]
