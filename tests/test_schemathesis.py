"""Schemathesis against the served /openapi.json on a real uvicorn server and SQLite file.

Every generated request (valid and invalid, with no, a wrong, an author's or the admin token)
must get a documented status and never a 5xx; every error has the documented shape and no stack
trace; and a rejected request leaves the database exactly as it was. The stateful phase chains
requests along the document's links (the article a PUT made, the comment a POST made and its
author token, a held comment's queue id) and holds them to the same rules.
"""

from __future__ import annotations

import os
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis.errors import FlakyStrategyDefinition
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)
from starlette.routing import Route

from realtime.web import admin, http, notify, openapi_admin
from realtime.web.app import create_app
from realtime.web.openapi import OPERATIONS, build_document
from tests.conftest import ADMIN, SLUG
from tests.servers import ThreadServer, make_settings

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Under pytest-xdist each `schema.parametrize()` test collapses to one item that fuzzes one
    # operation (/healthz) and passes: run this file in its own pytest, as `make test` does.
    pytest.skip("fuzzes one operation under xdist: run without -n", allow_module_level=True)

# Hypothesis examples per operation (and per token, for those that take one); with schemathesis's
# explicit examples and coverage phase about 1,300 requests in all, ~30 s on 2 cores.
EXAMPLES = 12
# The stateful phase: scenarios of up to this many linked requests.
SCENARIOS = 40
STEPS = 8
SEEDED_COMMENTS = 3
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    unsupported_method,  # a method the path does not take: 405 with Allow
    allow_header_conformance,  # OPTIONS: Allow lists exactly the documented methods
]


class Live:
    """The server under test and the author token of one of its comments."""

    def __init__(self, server: ThreadServer) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=10)
        self.author_token = ""
        self.posts = 0
        self.statuses: Counter[int] = Counter()

    def seed(self) -> None:
        """Keep the example article open, with a few published comments and one held comment, and
        its poster unbanned."""
        auth = {"Authorization": f"Bearer {ADMIN}"}
        self.http.put(f"/api/articles/{SLUG}", json={"title": "Seeded"}, headers=auth)
        self.http.post(f"/api/admin/articles/{SLUG}/reopen", headers=auth)
        # A generated ban on the seed's own network or e-mail would refuse the seed's posts.
        for ban in self.http.get("/api/admin/bans", headers=auth).json()["bans"]:
            self.http.delete(f"/api/admin/bans/{ban['id']}", headers=auth)
        page = self.http.get(f"/api/articles/{SLUG}/comments").json()
        for _ in range(SEEDED_COMMENTS - page["count"]):
            self.author_token = self.post({})["token"]
        if not self.http.get("/api/admin/pending", headers=auth).json()["pending"]:
            self.post({"website": "https://bot.example"})  # the honeypot: held

    def post(self, extra: dict[str, str]) -> Any:
        self.posts += 1
        body = {"author": "Seed", "body": f"seed {self.posts}", "email": "seed@example.org"}
        created = self.http.post(f"/api/articles/{SLUG}/comments", json={**body, **extra})
        assert created.status_code == 201, created.text
        return created.json()

    def snapshot(self) -> list[list[Any]]:
        with sqlite3.connect(self.server.settings.db) as conn:
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                )
            ]
            return [
                conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid').fetchall()
                for table in tables
            ]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    db: Path = tmp_path_factory.mktemp("schemathesis") / "db.sqlite"
    server = ThreadServer(make_settings(db, admin_token=ADMIN, rate_limit="off")).start()
    state = Live(server)
    served = state.http.get("/openapi.json")
    assert served.status_code == 200 and served.json() == build_document()
    state.seed()
    yield state
    state.http.close()
    server.stop()
    cases = sum(state.statuses.values())
    print(f"schemathesis: {cases} requests, by status {sorted(state.statuses.items())}")


# Refusals that count as rejecting invalid data: schemathesis's default list plus 413, the
# contract's answer to a body past `max_request_bytes` (a generated body that breaks maxLength
# with thousands of escaped astral characters is refused for its size before it is decoded).
REJECTED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": [*REJECTED, "5xx"]}}}
)
# The document as the server builds it; `live` checks that /openapi.json serves exactly this.
schema = schemathesis.openapi.from_dict(build_document(), config=CONFIG)

HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


# The moderators' endpoints refuse every input alike without the right token (401/403): they are
# fuzzed with the owner's token only, which keeps the suite's time in bounds.
MODERATOR_OPERATIONS = sorted(op.name for op in openapi_admin.OPERATIONS)


@schema.exclude(operation_id=MODERATOR_OPERATIONS).parametrize()
@HYPOTHESIS
def test_api(case: Any, live: Live) -> None:
    """Documented status, documented shape, no 5xx, no traceback; rejections change nothing."""
    check_case(case, live, dict(case.headers or {}))


@pytest.mark.parametrize("bearer", ["admin", "author", "wrong"])
@schema.include(
    operation_id=[op.name for op in OPERATIONS if op.auth and op.name not in MODERATOR_OPERATIONS]
).parametrize()
@HYPOTHESIS
def test_api_with_tokens(case: Any, bearer: str, live: Live) -> None:
    """The same with the admin token, a real author token (of another comment) or a wrong one."""
    token = {"admin": ADMIN, "author": live.author_token, "wrong": "not-a-token"}[bearer]
    # The token replaces whatever schemathesis put there, so its idea of which requests are
    # invalid no longer holds: everything but `negative_data_rejection` is checked.
    headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
    check_case(case, live, headers, [c for c in CHECKS if c is not negative_data_rejection])


@schema.include(operation_id=MODERATOR_OPERATIONS).parametrize()
@HYPOTHESIS
def test_moderator_api_with_the_owner_token(case: Any, live: Live) -> None:
    """Bans, the audit log, word lists and a commenter's data: no 5xx, refusals write nothing."""
    headers = {**(case.headers or {}), "Authorization": f"Bearer {ADMIN}"}
    check_case(case, live, headers, [c for c in CHECKS if c is not negative_data_rejection])


def check_case(case: Any, live: Live, headers: dict[str, str], checks: list[Any] = CHECKS) -> None:
    live.seed()
    before = live.snapshot()
    response = case.call(base_url=live.server.url, headers=headers)
    live.statuses[response.status_code] += 1
    case.validate_response(response, checks=checks, headers=headers)
    assert "Traceback" not in response.text
    if response.status_code >= 400:
        assert_error_shape(response)
        assert live.snapshot() == before, f"{case.method} {case.formatted_path}: refused, but wrote"


def test_stateful(live: Live) -> None:
    """Sequences that follow the document's links: an article created, commented on, replied to,
    closed and reopened; a comment edited and deleted with its author's token, a held one
    approved or rejected. Every answer documented, no 5xx, and a refusal changes nothing."""
    # The moderators' operations have no links, and bans and forgetting change what later steps
    # can draw, so a replayed scenario would not be the same: they are fuzzed statelessly only.
    machine: Any = schema.exclude(operation_id=MODERATOR_OPERATIONS).as_state_machine()
    tokens: set[str] = set()  # author tokens handed out so far

    class Workflow(machine):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            live.seed()

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            # A link hands a comment's author token to its edit and delete; anything else runs
            # as the admin (the stateless tests try no, wrong and foreign tokens), except a
            # request meant to be invalid, which may be invalid for lack of a token.
            if case.meta is not None and case.meta.generation.mode.is_negative:
                return {"base_url": live.server.url}
            given = (case.headers or {}).get("Authorization", "")
            own = given.removeprefix("Bearer ") in tokens
            return {
                "base_url": live.server.url,
                "headers": {"Authorization": given if own else f"Bearer {ADMIN}"},
            }

        def call(self, case: Any, **kwargs: Any) -> Any:
            before = live.snapshot()
            response = case.call(**kwargs)
            live.statuses[response.status_code] += 1
            assert "Traceback" not in response.text
            if response.status_code >= 400:
                assert_error_shape(response)
                assert live.snapshot() == before, f"{case.method} {case.formatted_path}: wrote"
            elif case.operation.method == "post" and response.status_code == 201:
                tokens.add(response.json()["token"])
            return response

    scenarios = settings(
        max_examples=SCENARIOS,
        stateful_step_count=STEPS,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    try:
        Workflow.run(settings=scenarios)
    except FlakyStrategyDefinition:
        # Not a finding: the links draw from the server's answers, and the server keeps its
        # state between scenarios (the same comment twice in a row is a 409), so Hypothesis,
        # replaying a choice sequence, can meet another kind of value. One fresh run; every
        # check applies to it, and any other error fails the test at once.
        Workflow.run(settings=scenarios)


def test_every_route_is_documented(tmp_path: Path) -> None:
    """Each method of each route in `http.routes`, `admin.routes`, `notify.routes` and the
    feeds has its operation in the document."""
    paths = build_document()["paths"]
    app = create_app(make_settings(tmp_path / "db.sqlite"))
    feeds = [route for route in app.routes if getattr(route, "path", "").startswith("/feeds/")]
    assert len(feeds) == 2
    for route in [*http.routes, *admin.routes, *notify.routes, *feeds]:
        assert isinstance(route, Route)
        for method in (route.methods or set()) - {"HEAD"}:
            assert method.lower() in paths.get(route.path, {}), f"{method} {route.path}"


def assert_error_shape(response: Any) -> None:
    assert response.headers["content-type"] == ["application/json"]
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"status", "code", "message", "field"}
    assert error["status"] == response.status_code
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert error["field"] is None or isinstance(error["field"], str)
