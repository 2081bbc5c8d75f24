"""SQLite's schema, as numbered migrations applied against `PRAGMA user_version`.

PostgreSQL has its own list (`pg_schema.py`): a table added here needs its equivalent there.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import aiosqlite

from realtime.store.db import check_version

# Numbered migrations: MIGRATIONS[n] takes a database from user_version n to n + 1.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
    INSERT INTO meta VALUES ('avatar_key', lower(hex(randomblob(32))));
    CREATE TABLE articles (
        slug TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        url TEXT,
        created TEXT NOT NULL,
        count INTEGER NOT NULL DEFAULT 0 CHECK (count >= 0)
    ) STRICT;
    CREATE TABLE comments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        article TEXT NOT NULL REFERENCES articles(slug),
        parent INTEGER REFERENCES comments(id),
        author TEXT NOT NULL,
        email TEXT,
        avatar TEXT NOT NULL,
        body TEXT NOT NULL,
        created TEXT NOT NULL,
        edited TEXT,
        token_hash BLOB NOT NULL,
        status TEXT NOT NULL DEFAULT 'published'
            CHECK (status IN ('published', 'pending', 'deleted', 'rejected'))
    ) STRICT;
    CREATE INDEX comments_article_id ON comments(article, id);
    """,
    # 2: moderation. Held comments wait in their own table, so that a comment gets its public id
    # when it is published (approved): ids stay in publish order and resume keeps working.
    """
    ALTER TABLE articles ADD COLUMN closed INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE pending (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        article TEXT NOT NULL REFERENCES articles(slug),
        parent INTEGER REFERENCES comments(id),
        author TEXT NOT NULL,
        email TEXT,
        avatar TEXT NOT NULL,
        body TEXT NOT NULL,
        created TEXT NOT NULL,
        token_hash BLOB NOT NULL,
        reason TEXT NOT NULL
    ) STRICT;
    CREATE INDEX comments_email ON comments(email) WHERE email IS NOT NULL;
    CREATE INDEX comments_anonymous_author ON comments(author) WHERE email IS NULL;
    """,
    # 3: a change counter. Each edit or deletion takes the next `rev`, so a reader that resumes
    # with ?after=ID&rev=R can be sent the changes it missed, not only the new comments.
    """
    ALTER TABLE comments ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX comments_rev ON comments(rev) WHERE rev > 0;
    CREATE INDEX comments_article_rev ON comments(article, rev) WHERE rev > 0;
    """,
    # 4: notifications. The outbox is written in the same transaction as the change that causes
    # each notification and delivered by a sender that leases rows (`lease_until`), so a crash
    # loses none and several processes send each once. `notify_key` signs the links in mails;
    # `delivery_prefix` makes the idempotency key (prefix-id) unique across databases.
    """
    INSERT INTO meta VALUES ('notify_key', lower(hex(randomblob(32))));
    INSERT INTO meta VALUES ('delivery_prefix', lower(hex(randomblob(8))));
    ALTER TABLE comments ADD COLUMN notify INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE pending ADD COLUMN notify INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE subscribers (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        email TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL CHECK (state IN ('unconfirmed', 'confirmed', 'unsubscribed')),
        asked REAL NOT NULL
    ) STRICT;
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        channel TEXT NOT NULL CHECK (channel IN ('mail', 'webhook')),
        event TEXT NOT NULL,
        target TEXT NOT NULL,
        thread TEXT,
        payload BLOB NOT NULL,
        created REAL NOT NULL,
        due REAL NOT NULL,
        lease_until REAL NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'dead')),
        finished REAL,
        last_error TEXT
    ) STRICT;
    CREATE INDEX outbox_due ON outbox(due) WHERE state = 'pending';
    CREATE INDEX outbox_target ON outbox(target, created);
    CREATE INDEX outbox_dead ON outbox(id) WHERE state = 'dead';
    """,
    # 5: named moderators (only a hash of each token), the audit trail of what they did, bans,
    # and per comment what a ban needs: the poster's network as moderators may see it (a /24 or
    # /64 prefix) and a keyed hash of the network the ban matches (the IPv4 address, the IPv6
    # /64), both erased after `client_address_days`. `ban_key` keys the hashes of addresses and
    # e-mails in bans, so no ban holds an address or an e-mail in clear.
    """
    INSERT INTO meta VALUES ('ban_key', lower(hex(randomblob(32))));
    CREATE TABLE moderators (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        token_hash BLOB NOT NULL UNIQUE,
        created TEXT NOT NULL,
        revoked TEXT,
        rev INTEGER NOT NULL
    ) STRICT;
    CREATE UNIQUE INDEX moderators_active_name ON moderators(name) WHERE revoked IS NULL;
    CREATE INDEX moderators_rev ON moderators(rev);
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        moderator INTEGER REFERENCES moderators(id),
        action TEXT NOT NULL,
        article TEXT,
        comment INTEGER,
        pending INTEGER,
        detail TEXT NOT NULL DEFAULT ''
    ) STRICT;
    CREATE TABLE bans (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        address_key BLOB,
        address_prefix TEXT,
        email_key BLOB,
        author TEXT NOT NULL,
        comment INTEGER,
        pending INTEGER,
        reason TEXT NOT NULL,
        created TEXT NOT NULL,
        expires TEXT,
        moderator TEXT NOT NULL,
        lifted TEXT,
        lifted_by TEXT,
        rev INTEGER NOT NULL,
        CHECK (address_key IS NOT NULL OR email_key IS NOT NULL)
    ) STRICT;
    CREATE INDEX bans_rev ON bans(rev);
    CREATE INDEX bans_address ON bans(address_key) WHERE address_key IS NOT NULL;
    CREATE INDEX bans_email ON bans(email_key) WHERE email_key IS NOT NULL;
    ALTER TABLE comments ADD COLUMN client_prefix TEXT;
    ALTER TABLE comments ADD COLUMN client_key BLOB;
    ALTER TABLE pending ADD COLUMN client_prefix TEXT;
    ALTER TABLE pending ADD COLUMN client_key BLOB;
    CREATE INDEX comments_client_created ON comments(created) WHERE client_key IS NOT NULL;
    CREATE INDEX pending_email ON pending(email) WHERE email IS NOT NULL;
    """,
    # 6: votes, pins and formatting. `html` is the body rendered by the server's sanitizer
    # (realtime.formatting) in the comment's `format`; rows older than this get it when the
    # server starts (`CommentService.render_missing`: Python, not SQL, makes it), as `text`, the
    # way they were shown before. Score counters live on the comment row and change in the same
    # transaction as the vote; a voter is kept only as a keyed hash of the browser's token.
    """
    ALTER TABLE comments ADD COLUMN html TEXT;
    ALTER TABLE comments ADD COLUMN format TEXT NOT NULL DEFAULT 'text'
        CHECK (format IN ('text', 'markdown'));
    ALTER TABLE comments ADD COLUMN up INTEGER NOT NULL DEFAULT 0 CHECK (up >= 0);
    ALTER TABLE comments ADD COLUMN down INTEGER NOT NULL DEFAULT 0 CHECK (down >= 0);
    ALTER TABLE comments ADD COLUMN score INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE comments ADD COLUMN vote_seq INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE comments ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE comments ADD COLUMN voter_hash BLOB;
    ALTER TABLE pending ADD COLUMN html TEXT;
    ALTER TABLE pending ADD COLUMN format TEXT NOT NULL DEFAULT 'text'
        CHECK (format IN ('text', 'markdown'));
    ALTER TABLE pending ADD COLUMN voter_hash BLOB;
    CREATE TABLE votes (
        comment INTEGER NOT NULL REFERENCES comments(id),
        voter BLOB NOT NULL,
        value INTEGER NOT NULL CHECK (value IN (-1, 1)),
        PRIMARY KEY (comment, voter)
    ) STRICT;
    CREATE INDEX comments_parent ON comments(parent) WHERE parent IS NOT NULL;
    CREATE INDEX comments_top ON comments(article, score DESC, id) WHERE parent IS NULL;
    CREATE INDEX comments_html_missing ON comments(id) WHERE html IS NULL;
    """,
]


async def migrate(conn: aiosqlite.Connection, migrations: list[str] = MIGRATIONS) -> int:
    """Bring the schema to the newest version; each step is one transaction."""
    version = await user_version(conn)
    check_version(version, len(migrations))
    for number in range(int(version), len(migrations)):
        try:
            await conn.executescript(
                f"BEGIN IMMEDIATE; {migrations[number]}; PRAGMA user_version = {number + 1};"
                " COMMIT;"
            )
        except sqlite3.Error:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            raise
    return len(migrations)


async def user_version(conn: aiosqlite.Connection) -> int:
    async with conn.execute("PRAGMA user_version") as cursor:
        row: Any = await cursor.fetchone()
    return int(row[0])
