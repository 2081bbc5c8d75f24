"""`realtime loadtest` against a real server at a small size, its report, and its errors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from realtime.cli import main
from realtime.loadtest.histogram import Histogram, bucket_bounds, bucket_of
from realtime.loadtest.lean import FrameParser
from realtime.loadtest.protocol import marker, sent_at
from realtime.loadtest.readers import Reader
from realtime.loadtest.sse import Dechunker, data_lines
from tests.conftest import ADMIN
from tests.servers import ROOT, UNIT, ThreadServer, free_port


def loadtest(server: ThreadServer, tmp_path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    """Run `realtime loadtest` in this process; return its exit code and its JSON report."""
    out = tmp_path / "report.json"
    argv = ["loadtest", "--url", server.url, "--admin-token", ADMIN, "--no-progress"]
    argv += ["--json", str(out), "--drain-timeout", str(10 * UNIT), *extra]
    code = main(argv)
    return code, json.loads(out.read_text())


def assert_consistent(report: dict[str, Any], readers: int) -> None:
    """The counts in a passing report agree with each other."""
    r, p, d, c = report["readers"], report["posts"], report["deliveries"], report["correctness"]
    assert report["passed"] is True and report["failures"] == []
    assert r["connected"] == readers and r["failed"] == 0 and r["closed_during_run"] == {}
    assert p["sent"] == p["acknowledged"] > 0 and p["statuses"] == {"201": p["sent"]}
    assert p["errors"] == {}
    assert c == {
        "missing": 0,
        "duplicated": 0,
        "out_of_order": 0,
        "extra": 0,
        "readers_with_problems": 0,
    }
    assert d["total"] == d["expected"] > 0
    assert report["latency_histogram"]["count"] == d["total"]
    assert sum(report["timeline"]["deliveries"]) == d["total"]
    assert sum(report["timeline"]["posts"]) == p["sent"]
    lat = d["latency_ms"]
    assert 0 <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"] <= lat["max"]
    assert d["per_second"] > 0 and r["connect_ms"]["p50"] > 0
    assert report["options"]["admin_token"] == "(set)"  # the token itself is never written


def article_count(server: ThreadServer, slug: str) -> int:
    count: int = httpx.get(f"{server.url}/api/articles/{slug}").json()["count"]
    return count


def test_small_run_one_process(server: ThreadServer, tmp_path: Path) -> None:
    """50 readers, 3 posters for 3 s: every reader gets every comment once, in order."""
    page = tmp_path / "report.html"
    code, report = loadtest(
        server, tmp_path, "--readers", "50", "--posters", "3", "--rate", "20",
        "--duration", "3", "--report", str(page),
    )  # fmt: skip
    assert code == 0, report["failures"]
    assert_consistent(report, 50)
    sent = report["posts"]["sent"]
    assert 30 <= sent <= 60  # 20/s for 3 s, less only if the server falls behind
    assert report["deliveries"]["total"] == 50 * sent
    assert article_count(server, "loadtest-1") == sent
    html = page.read_text()
    assert html.count("<svg") == 3 and "PASS" in html
    assert "<script" not in html and "src=" not in html  # self-contained


def test_two_processes_two_articles(server: ThreadServer, tmp_path: Path) -> None:
    """Readers spread over 2 processes and 2 articles; a fixed number of comments at full speed."""
    code, report = loadtest(
        server, tmp_path, "--readers", "50", "--articles", "2", "--posters", "4",
        "--rate", "0", "--comments", "40", "--procs", "2",
    )  # fmt: skip
    assert code == 0, report["failures"]
    assert_consistent(report, 50)
    assert report["posts"]["sent"] == 40
    # 25 readers on each article, 20 comments on each.
    assert report["deliveries"]["total"] == 25 * 20 * 2
    assert [p["readers"] for p in report["processes"]] == [25, 25]
    assert article_count(server, "loadtest-1") == article_count(server, "loadtest-2") == 20


def test_lean_websocket_readers(server: ThreadServer, tmp_path: Path) -> None:
    """--ws-client lean: readers that parse frames themselves check the same things and pass."""
    code, report = loadtest(
        server, tmp_path, "--readers", "40", "--articles", "2", "--posters", "3",
        "--rate", "0", "--comments", "30", "--body-bytes", "200", "--procs", "2",
        "--ws-client", "lean",
    )  # fmt: skip
    assert code == 0, report["failures"]
    assert_consistent(report, 40)
    assert report["deliveries"]["total"] == 20 * 15 * 2


def test_lean_frame_parser_any_split() -> None:
    """The lean reader's parser gives the same messages however the bytes are cut: lengths of
    7, 16 and 64 bits, a fragmented message, a ping between its fragments."""
    big, huge = b"b" * 300, b"h" * 70_000
    stream = (
        b"\x81\x05hello" + b"\x81\x7e" + (300).to_bytes(2, "big") + big
        + b"\x01\x03abc" + b"\x89\x02hi" + b"\x80\x03def"
        + b"\x81\x7f" + (70_000).to_bytes(8, "big") + huge
    )  # fmt: skip
    expected = [(1, b"hello"), (1, big), (9, b"hi"), (1, b"abcdef"), (1, huge)]
    for cut in (1, 2, 3, 7, 130, 4096, len(stream)):
        parser, got = FrameParser(), []
        for at in range(0, len(stream), cut):
            got += parser.feed(stream[at : at + cut])
        assert got == expected, cut


def test_reuses_existing_articles(server: ThreadServer, tmp_path: Path) -> None:
    """A second run on the same article counts only its own comments."""
    for _ in range(2):
        code, report = loadtest(
            server, tmp_path, "--readers", "10", "--rate", "0", "--comments", "5"
        )
        assert code == 0, report["failures"]
        assert report["deliveries"]["total"] == 50
    assert article_count(server, "loadtest-1") == 10


def test_body_bytes_pads_the_comments(server: ThreadServer, tmp_path: Path) -> None:
    """--body-bytes: each body is that long, and its send-time marker still times the delivery."""
    code, report = loadtest(
        server, tmp_path, "--readers", "5", "--rate", "0", "--comments", "4",
        "--body-bytes", "3000", "--article-prefix", "padded",
    )  # fmt: skip
    assert code == 0, report["failures"]
    assert_consistent(report, 5)
    assert report["deliveries"]["total"] == 20
    listed = httpx.get(f"{server.url}/api/articles/padded-1/comments").json()["comments"]
    assert len(listed) == 4
    for comment in listed:
        assert len(comment["body"]) == 3000
        assert sent_at(comment["body"], report["run_id"]) is not None


def test_refused_posts_fail_the_run(
    start_server: Callable[..., ThreadServer], tmp_path: Path
) -> None:
    """Posts the server refuses (here: bodies over its limit) make the run exit 1, with reasons."""
    server = start_server(body_max_chars=10)
    code, report = loadtest(server, tmp_path, "--readers", "5", "--rate", "0", "--comments", "3")
    assert code == 1
    assert report["passed"] is False
    assert report["posts"]["statuses"] == {"422": 3}
    assert any("not acknowledged: 422 x3" in line for line in report["failures"])


def run_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "realtime", "loadtest", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60 * UNIT,
        env={"PATH": "/usr/bin:/bin"},
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: --url"),
        (["--url", "example.com"], "--url must be a URL like http://"),
        (["--url", "http://127.0.0.1:99999"], "--url has a bad port"),
        (["--url", "http://h", "--readers", "0"], "--readers must be at least 1"),
        (["--url", "http://h", "--readers", "ten"], "invalid int value: 'ten'"),
        (["--url", "http://h", "--rate", "-1"], "--rate must be 0"),
        (["--url", "http://h", "--body-bytes", "-1"], "--body-bytes must not be negative"),
        (["--url", "http://h", "--readers", "2", "--procs", "3"], "--procs must not exceed"),
        (["--url", "http://h", "--article-prefix", "Bad Slug"], "--article-prefix must be a slug"),
        (["--url", "http://h", "--ws-url", "http://h"], "--ws-url must be a URL like ws://"),
        (["--url", "http://h", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_argument_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad argument: one line on stderr naming it, exit 2, no traceback."""
    assert main(["loadtest", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("realtime loadtest: error: ")
    assert message in err


def test_unreachable_server() -> None:
    """Nothing listening: the real command prints one line and exits 3."""
    url = f"http://127.0.0.1:{free_port()}"
    done = run_cli("--url", url, "--readers", "5", "--duration", "1")
    assert done.returncode == 3
    assert (
        done.stderr
        == f"realtime loadtest: error: cannot reach {url}: All connection attempts failed\n"
    )
    assert done.stdout == ""


def test_missing_article_without_admin_token(server: ThreadServer) -> None:
    """Without an admin token the articles must exist; the error says how to create them."""
    done = run_cli("--url", server.url, "--readers", "5", "--article-prefix", "nope")
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1
    assert "article nope-1 does not exist: pass --admin-token" in done.stderr


def test_no_reader_connects(server: ThreadServer) -> None:
    """WebSockets unreachable while HTTP works: one line, exit 3, nothing posted."""
    ws_url = f"ws://127.0.0.1:{free_port()}"
    done = run_cli(
        "--url", server.url, "--ws-url", ws_url, "--readers", "5", "--admin-token", ADMIN
    )
    assert done.returncode == 3
    assert done.stderr == (
        f"realtime loadtest: error: no reader could connect to {ws_url}: connection refused\n"
    )
    assert article_count(server, "loadtest-1") == 0


def test_wrong_admin_token(server: ThreadServer) -> None:
    """A refused admin token is one line with the server's reason."""
    done = run_cli("--url", server.url, "--readers", "5", "--admin-token", "wrong")
    assert done.returncode == 3
    assert done.stderr == (
        "realtime loadtest: error: creating article loadtest-1 answered 403 (not the admin token)\n"
    )


def test_help_lists_the_options() -> None:
    """`realtime loadtest --help` is the load tester's own help, and exits 0."""
    done = run_cli("--help")
    assert done.returncode == 0
    assert "--readers" in done.stdout and "REALTIME_RATE_LIMIT=off" in done.stdout


# ---- the pieces ------------------------------------------------------------------------------


def test_histogram_buckets_cover_every_value_once() -> None:
    """Buckets are contiguous and each value lands in the bucket whose bounds hold it."""
    previous_high = -1
    for index in range(bucket_of(10**9) + 1):
        low, high = bucket_bounds(index)
        assert low == previous_high + 1 and bucket_of(low) == bucket_of(high) == index
        previous_high = high


def test_histogram_percentiles_within_relative_error() -> None:
    """Percentiles are within 1/64 of the exact ones; merged histograms equal one histogram."""
    values = [int(1.07**k) + k for k in range(300)]
    one, left, right = Histogram(), Histogram(), Histogram()
    for n, value in enumerate(values):
        one.record(value)
        (left if n % 2 else right).record(value)
    merged = Histogram().merge(left.data()).merge(right)
    assert merged.data() == one.data()
    ordered = sorted(values)
    for q in (0.5, 0.9, 0.99, 0.999):
        exact = ordered[max(0, -(-int(q * 1000) * len(values) // 1000) - 1)]
        assert exact <= one.percentile(q) <= exact * (1 + 1 / 64)
    assert one.percentile(1.0) == one.max == max(values) and one.min == min(values)


def test_reader_counts_duplicates_and_out_of_order() -> None:
    """A reader's record: a repeated id is a duplicate, an id below the last new one is late."""
    reader = Reader("a")
    for comment_id in (1, 2, 5, 5, 3, 3, 6, 2):
        reader.saw(comment_id)
    assert list(reader.ids) == [1, 2, 5, 6] and reader.late == {3}
    assert reader.duplicated == 3 and reader.out_of_order == 1 and reader.unique == 5


def test_marker_round_trip() -> None:
    """Only this run's marker yields a send time."""
    body = "Some text.\n\n" + marker("abc123", 1700000000.25)
    assert sent_at(body, "abc123") == 1700000000.25
    assert sent_at(body, "other") is None
    assert sent_at("no marker here", "abc123") is None
    assert sent_at("[loadtest abc123 nonsense]", "abc123") is None


def test_sse_readers(server: ThreadServer, tmp_path: Path) -> None:
    """--transport sse: 40 event-stream readers in 2 processes get every comment once, in order."""
    code, report = loadtest(
        server, tmp_path, "--transport", "sse", "--readers", "40", "--procs", "2",
        "--articles", "2", "--comments", "60", "--rate", "0",
    )  # fmt: skip
    assert code == 0, report["failures"]
    assert_consistent(report, 40)
    assert report["options"]["transport"] == "sse"
    assert report["deliveries"]["total"] == 20 * report["posts"]["sent"]


def test_sse_dechunker_and_event_blocks() -> None:
    """The lean SSE reader undoes chunking split anywhere and finds each event's data line."""
    body = b'data: {"a":1}\nid: 3.0\n\n: keepalive\n\ndata: {"b":2}\n\n'
    wire = (
        b"".join(b"%x\r\n%b\r\n" % (len(part), part) for part in (body[:7], body[7:]))
        + b"0\r\n\r\n"
    )
    for cut in range(len(wire) + 1):
        chunks = Dechunker()
        out = chunks.feed(wire[:cut]) + chunks.feed(wire[cut:])
        assert out == body and chunks.ended
    blocks = body.split(b"\n\n")
    assert [data_lines(block) for block in blocks] == [[b'{"a":1}'], [], [b'{"b":2}'], []]
