"""`Reorder` edge cases that `make mutants` found untested (the property test is in
tests/test_redis_hub.py): late comments, duplicates, and what a read-back brings along."""

from __future__ import annotations

from realtime.live.hub import Message
from realtime.live.reorder import Reorder


def comment(comment_id: int) -> Message:
    return Message.of(b'{"type":"comment"}', comment_id)


def count(text: str) -> Message:
    return Message.of(f'{{"type":"count","n":"{text}"}}'.encode())


class Delivered:
    def __init__(self) -> None:
        self.events: list[tuple[str, int | None]] = []

    def __call__(self, topic: str, message: Message) -> None:
        self.events.append((topic, message.comment_id))


def test_a_late_comment_goes_to_its_own_topic_and_push_tells_duplicates() -> None:
    """A comment below the watermark (approved late) reaches its topic; a held copy is refused."""
    delivered = Delivered()
    reorder = Reorder(delivered, 5)
    assert reorder.push("article:a", comment(3), 3) is True  # published late, not a duplicate
    assert reorder.push("article:a", comment(7), 7) is True  # held: waits for 5 and 6
    assert reorder.push("article:a", comment(7), 7) is False  # the same one again
    assert delivered.events == [("article:a", 3)]


def test_a_read_back_comment_brings_its_count_in_order() -> None:
    """Filling a missing id delivers every event it had, the comment first, then what follows."""
    delivered = Delivered()
    reorder = Reorder(delivered, 1)
    reorder.push("article:a", comment(2), 2)
    assert reorder.wanted() == (1, 2)
    reorder.fill(1, 1, {1: [("article:a", comment(1)), ("count:a", count("1"))]})
    assert delivered.events == [("article:a", 1), ("count:a", None), ("article:a", 2)]


def test_a_fill_resolves_only_the_ids_it_was_asked_for() -> None:
    """After filling 1-2 (never published), 4 still waits for 3, and 3 comes first when it does."""
    delivered = Delivered()
    reorder = Reorder(delivered, 1)
    reorder.push("article:a", comment(4), 4)
    reorder.fill(1, 2, {})  # held for moderation, say
    assert delivered.events == []
    reorder.push("article:a", comment(3), 3)
    assert delivered.events == [("article:a", 3), ("article:a", 4)]
