"""`realtime moderator add|list|revoke` and `realtime forget`: the operator's side of moderators
and of a commenter's right to be forgotten. They work on the database directly, with or without
a server running on it.

A running server notices a revoked moderator within a second (it polls; see `actors`). Forgetting
publishes its `edit`/`delete` events through the configured hub: with `hub = "redis://…"` the
readers of every server process see them live; with the in-process hub only the server's own
admin API (`POST /api/admin/forget`) reaches open pages live, and the command line's changes
reach readers when they next load or resume the thread.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import msgspec

from realtime.config import Settings
from realtime.errors import AppError
from realtime.live.backfill import StoreBackfill
from realtime.live.factory import make_hub
from realtime.models import ForgetIn
from realtime.moderators import CLI_ACTOR
from realtime.service import CommentService
from realtime.store import Store

COMMANDS = ("moderator", "forget")


def add_commands(commands: Any, shared: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register the subcommands on `realtime`'s subparsers (`shared` adds --db and --config)."""
    moderator = commands.add_parser("moderator", help="add, list or revoke named moderators")
    actions = moderator.add_subparsers(dest="moderator_command", required=True)
    add = actions.add_parser(
        "add",
        help="add a moderator; prints their token once, alone on standard output",
        description="Only a hash of the token is kept: it cannot be shown again.",
    )
    add.add_argument("name")
    listed = actions.add_parser("list", help="the moderators, active first")
    revoke = actions.add_parser(
        "revoke", help="revoke a moderator's token (a running server refuses it within a second)"
    )
    revoke.add_argument("name")
    forget = commands.add_parser(
        "forget",
        help="anonymise every comment of an e-mail address and drop its held comments",
        description="Author 'deleted', no e-mail, avatar or network; the text is removed too "
        "unless --keep-text. Bans on the address stay in force. Backups taken before still "
        "hold the address until they rotate out.",
    )
    forget.add_argument("--email", required=True)
    forget.add_argument("--keep-text", action="store_true", help="keep the comments' text")
    for parser in (add, listed, revoke, forget):
        shared(parser)


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        asyncio.run(_dispatch(args, settings))
    except (AppError, msgspec.ValidationError, sqlite3.Error) as exc:
        print(f"realtime {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


async def _dispatch(args: argparse.Namespace, settings: Settings) -> None:
    async with _service(settings) as service:
        if args.command == "forget":
            request = msgspec.convert({"email": args.email, "keep_text": args.keep_text}, ForgetIn)
            done = await service.privacy.forget(request, CLI_ACTOR)
            print(
                f"forgot {request.email}: {done.comments} comments anonymised, {done.pending} held"
                f" ones dropped, {done.bans} bans renamed, {done.subscriptions} subscriptions and"
                f" {done.notifications} notifications dropped",
                file=sys.stderr,
            )
            return
        if args.moderator_command == "add":
            info, token = await service.moderators.add(args.name)
            print(token)  # alone on standard output, for `TOKEN=$(realtime moderator add …)`
            print(f"added moderator {info.name}; the token above is shown once", file=sys.stderr)
        elif args.moderator_command == "revoke":
            info = await service.moderators.revoke(args.name)
            print(f"revoked moderator {info.name}", file=sys.stderr)
        else:
            for each in await service.moderators.roster():
                state = f"revoked {each.revoked}" if each.revoked else "active"
                print(f"{each.name}\t{state}\tadded {each.created}")


@asynccontextmanager
async def _service(settings: Settings) -> AsyncIterator[CommentService]:
    store = await Store.from_settings(settings)
    hub = make_hub(settings.hub, settings.reader_backlog_bytes, StoreBackfill(store), settings.db)
    try:
        await hub.start()
        yield CommentService(settings, store, hub)
    finally:
        await store.close()  # its last commits publish through the hub, so it closes first
        await hub.close()
