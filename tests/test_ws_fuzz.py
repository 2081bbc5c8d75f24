"""WebSocket fuzz against the real server: every bad frame gets its close code, nothing else breaks.

Random text, oversized, binary and non-UTF-8 frames, fragmented messages and floods of pings, each
on its own connection. The expected close codes: a frame over `ws_max_frame_bytes` 1009, a
binary frame or a text that is not exactly a ping 1008, a text frame that is not UTF-8 1007 (the
websockets layer, as RFC 6455 asks). A bystander reader connected from the start must still get a
new comment after each batch. The module prints how many cases of each kind ran (`pytest -s`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.conftest import ADMIN, SLUG
from tests.servers import UNIT, ThreadServer, make_settings

LIMIT = 4096  # the default ws_max_frame_bytes
PING = '{"type":"ping"}'
FLOOD = 3000
PROTOCOL_PINGS = 1000
FLOODERS = 4
# The two streams: path, and the type of the first message.
STREAMS = {
    "thread": (f"/ws/articles/{SLUG}", "hello"),
    "counts": (f"/ws/counts?articles={SLUG},other", "counts"),
}
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Live:
    def __init__(self, server: ThreadServer) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=10 * UNIT)
        self.cases: Counter[str] = Counter()
        self.bystander: ClientConnection | None = None

    @contextmanager
    def reader(self, stream: str = "thread") -> Iterator[ClientConnection]:
        path, first = STREAMS[stream]
        with connect(
            self.server.ws_url + path, open_timeout=10 * UNIT, max_size=None
        ) as connection:
            assert json.loads(connection.recv(timeout=5 * UNIT))["type"] == first
            yield connection

    def outcome(self, connection: ClientConnection) -> int | str:
        """`pong`, or the server's close code; `watchers` and `comment` events are skipped."""
        try:
            while True:
                event = json.loads(connection.recv(timeout=5 * UNIT))
                if event["type"] not in ("watchers", "comment"):
                    return str(event["type"])
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else "no close frame"

    def still_serving(self) -> None:
        """The bystander, connected before all the fuzzing, gets a comment posted now."""
        assert self.bystander is not None
        posted = self.http.post(
            f"/api/articles/{SLUG}/comments", json={"author": "Check", "body": "still here?"}
        )
        assert posted.status_code == 201, posted.text
        while True:
            event = json.loads(self.bystander.recv(timeout=5 * UNIT))
            if event["type"] == "comment":
                assert event["comment"]["id"] == posted.json()["comment"]["id"]
                return


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    db: Path = tmp_path_factory.mktemp("ws-fuzz") / "db.sqlite"
    server = ThreadServer(make_settings(db, admin_token=ADMIN, rate_limit="off")).start()
    state = Live(server)
    created = state.http.put(
        f"/api/articles/{SLUG}",
        json={"title": "Fuzz"},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert created.status_code == 201
    with state.reader() as state.bystander:
        yield state
    print(f"WebSocket fuzz cases: {dict(state.cases)}")
    state.http.close()
    server.stop()


def send_one(
    live: Live,
    category: str,
    frame: str | bytes | list[str],
    text: bool = True,
    stream: str = "thread",
) -> Any:
    live.cases[category] += 1
    with live.reader(stream) as connection:
        try:
            if isinstance(frame, bytes):
                connection.send(frame, text=text)
            else:
                connection.send(frame)
        except ConnectionClosed:
            pass  # the server may close before the last fragment is out; its code is read below
        return live.outcome(connection)


# ---- what the server should answer -----------------------------------------------------------


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as the list of its members, repeated keys included."""


def is_ping(text: str) -> bool:
    """An object whose only key is "type", "ping" each time it appears (as msgspec checks it)."""
    try:
        parsed = json.loads(text, object_pairs_hook=_Pairs)
    except ValueError:
        return False
    return (
        isinstance(parsed, _Pairs) and bool(parsed) and all(m == ("type", "ping") for m in parsed)
    )


def is_utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def expected_for_text(text: str) -> int | str:
    if len(text.encode()) > LIMIT:
        return 1009
    return "pong" if is_ping(text) else 1008


# ---- strategies ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)
near_pings = st.dictionaries(
    st.sampled_from(["type", "Type", "id", "data"]),
    st.sampled_from(["ping", "PING", "pong", "", 1, None, ["ping"]]),
    max_size=3,
).map(json.dumps)
repeated_keys = st.sampled_from(['{"type":"ping","type":"ping"}', '{"type":"pong","type":"ping"}'])
padded = st.tuples(
    st.sampled_from(["", " ", "\n\t"]),
    near_pings | repeated_keys | st.just(PING),
    st.sampled_from(["", " ", "x"]),
).map("".join)
# Around the size limit, in one- and two-byte characters (the bound is in bytes).
around_limit = st.tuples(st.integers(LIMIT - 20, LIMIT + 20), st.sampled_from([" ", "é"])).map(
    lambda size_char: (
        PING + size_char[1] * ((size_char[0] - len(PING)) // len(size_char[1].encode()))
    )
)
texts = st.text(max_size=300) | json_values.map(json.dumps) | padded | around_limit

# A valid start, one invalid UTF-8 sequence (stray byte, truncated, overlong, surrogate), an end.
BAD_UTF8 = [b"\xff", b"\xc3", b"\xe2\x82", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"]
non_utf8 = (
    st.tuples(
        st.sampled_from([b"", b'{"type":"ping', b"hello "]),
        st.sampled_from(BAD_UTF8),
        st.binary(max_size=100),
    )
    .map(b"".join)
    .filter(lambda data: not is_utf8(data))
)


# ---- the fuzz --------------------------------------------------------------------------------


@FUZZ
@given(text=texts)
def test_random_text_frames(live: Live, text: str) -> None:
    """Exactly a ping: a pong; over 4 KiB: 1009; any other text: 1008."""
    category = "oversized text" if len(text.encode()) > LIMIT else "random text"
    assert send_one(live, category, text) == expected_for_text(text), text[:80]


@settings(FUZZ, max_examples=100)
@given(data=st.binary(max_size=200) | st.binary(min_size=LIMIT - 8, max_size=LIMIT + 8))
def test_binary_frames(live: Live, data: bytes) -> None:
    """A binary frame closes with 1008 (JSON text only), or 1009 when over the limit."""
    category = "oversized binary" if len(data) > LIMIT else "binary"
    assert send_one(live, category, data, text=False) == (1009 if len(data) > LIMIT else 1008)


@settings(FUZZ, max_examples=100)
@given(data=non_utf8)
def test_non_utf8_text_frames(live: Live, data: bytes) -> None:
    """A text frame that is not UTF-8 closes with 1007 (invalid frame payload data)."""
    assert send_one(live, "non-UTF-8 text", data) == 1007


def test_fragmented_messages(live: Live) -> None:
    """A message in fragments counts whole: a ping in pieces is a ping, over 4 KiB in total 1009."""
    assert send_one(live, "fragmented", ['{"type":', '"ping"}']) == "pong"
    assert send_one(live, "fragmented", ["x" * 3000, "y" * 3000]) == 1009
    assert send_one(live, "fragmented", [PING[:5], "\x00", PING[5:]]) == 1008
    live.still_serving()


@pytest.mark.parametrize(
    ("frame", "text", "expected"),
    [
        (PING, True, "pong"),
        ('{"type":"ping","x":1}', True, 1008),
        (b"\x00\x01", False, 1008),
        (b"\xff{}", True, 1007),
        ("x" * (LIMIT + 1), True, 1009),
    ],
)
def test_counts_stream_frames(live: Live, frame: str | bytes, text: bool, expected: Any) -> None:
    """The counts stream follows the same rules for what a client sends."""
    assert send_one(live, "counts stream", frame, text=text, stream="counts") == expected


def test_batches_leave_the_server_serving(live: Live) -> None:
    """After the random batches above, the bystander still gets new comments; /healthz answers."""
    live.still_serving()
    assert live.http.get("/healthz").status_code == 200


def test_ping_flood(live: Live) -> None:
    """Thousands of pings without reading: every one is answered, in order, and nothing closes."""
    with ExitStack() as stack:
        flooders = [stack.enter_context(live.reader()) for _ in range(FLOODERS)]
        for connection in flooders:
            for _ in range(FLOOD):
                connection.send(PING)
        live.cases["ping flood connections"] += FLOODERS
        live.cases["app pings"] += FLOODERS * FLOOD
        live.still_serving()
        for connection in flooders:
            pongs = 0
            while pongs < FLOOD:
                event = json.loads(connection.recv(timeout=10 * UNIT))
                pongs += event["type"] == "pong"


def test_protocol_ping_flood(live: Live) -> None:
    """WebSocket-level ping frames are answered by the protocol layer, also a thousand at once."""
    with live.reader() as connection:
        waiters = [connection.ping(str(n).encode()) for n in range(PROTOCOL_PINGS)]
        for waiter in waiters:
            assert waiter.wait(timeout=10 * UNIT)
        live.cases["protocol pings"] += PROTOCOL_PINGS
        live.still_serving()
        connection.send(PING)
        assert live.outcome(connection) == "pong"
