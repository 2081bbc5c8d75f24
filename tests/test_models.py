"""Decoding is validation: the Structs refuse what the API refuses, naming the field."""

from __future__ import annotations

import msgspec
import pytest

from realtime.errors import from_validation
from realtime.models import CommentEdit, CommentIn, Ping

decode_comment = msgspec.json.Decoder(CommentIn).decode


def test_valid_comment() -> None:
    """A full comment decodes with its optional fields."""
    comment = decode_comment(
        '{"author": "Åsa", "body": "“Quoted”\\n\\nSecond.", "email": "a@b.org", "parent": 3}'
    )
    assert comment == CommentIn(author="Åsa", body="“Quoted”\n\nSecond.", email="a@b.org", parent=3)


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ('{"author": "", "body": "x"}', "author", "must not be empty"),
        ('{"author": "a", "body": "x\\u0000"}', "body", "NUL"),
        ('{"author": "a", "body": "x", "email": "a@b"}', "email", "e-mail"),
        ('{"author": "a", "body": "x", "created": "now"}', "created", "unknown field"),
        ('{"author": "a"}', "body", "missing"),
        ('{"author": "a", "body": "x", "parent": "1"}', "parent", "Expected `int"),
        ('{"author": "a", "body": "x", "parent": -1}', "parent", ">= 1"),
    ],
)
def test_refusals_name_the_field(raw: str, field: str, message: str) -> None:
    """Each refusal becomes a 422 naming its field, with a readable message."""
    with pytest.raises(msgspec.ValidationError) as caught:
        decode_comment(raw)
    error = from_validation(caught.value)
    assert error.status == 422 and error.field == field
    assert message in error.message


def test_length_bounds_count_characters() -> None:
    """Bounds are in characters, not bytes: 80 multi-byte letters are a valid name."""
    assert decode_comment('{"author": "' + "ø" * 80 + '", "body": "x"}').author == "ø" * 80
    with pytest.raises(msgspec.ValidationError):
        decode_comment('{"author": "' + "ø" * 81 + '", "body": "x"}')
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode('{"body": "' + "b" * 10_001 + '"}', type=CommentEdit)


def test_ping_is_the_only_client_message() -> None:
    """Clients may send {"type": "ping"} and nothing else."""
    assert msgspec.json.decode('{"type": "ping"}', type=Ping) == Ping(type="ping")
    for raw in ('{"type": "pong"}', '{"type": "ping", "x": 1}', "{}"):
        with pytest.raises(msgspec.ValidationError):
            msgspec.json.decode(raw, type=Ping)
