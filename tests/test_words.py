"""Word lists: hold words hold, refuse words refuse with 422 naming the rule; whole words only,
whatever the case or accents; reloaded by SIGHUP and from the admin page."""

from __future__ import annotations

import asyncio
import signal
import unicodedata
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st

from realtime.moderators.words import WordList, fold, words
from tests.conftest import ADMIN, post_comment
from tests.servers import UNIT, ProcessServer
from tests.test_http import assert_error

OWNER = {"Authorization": f"Bearer {ADMIN}"}

# Letters of many scripts, with and without accents (no marks alone: they are not words).
LETTERS = st.characters(categories=["Lu", "Ll", "Lo"], max_codepoint=0x2FFF)
WORD = st.text(LETTERS, min_size=1, max_size=8).filter(lambda word: len(words(word)) == 1)
SEPARATORS = st.sampled_from([" ", ", ", ".\n", " — ", "!", "(", ") "])


def test_case_and_accents_do_not_matter_but_whole_words_do() -> None:
    """ "Å", "å" and "a" are one letter here; a word inside a longer word is not a hit."""
    listed = WordList(["Ås", "straße", "buy now"])
    assert listed.find("Skiing in ÅS today") == "Ås"
    assert listed.find("åS") == "Ås" and listed.find("as") == "Ås"
    assert listed.find("Åsa and Kåre, class, gas") is None
    assert listed.find("STRASSE 5") == "straße" and listed.find("Strassen") is None
    assert listed.find("Buy   NOW!") == "buy now" and listed.find("buy, then now") is None
    assert listed.find("ＳＴＲＡＳＳＥ") == "straße"  # full-width letters fold (NFKD)
    assert WordList(["Åsa"]).find("A\u030asa is here") == "Åsa"  # decomposed input
    assert WordList(["ı"]).find("I was there") is None  # dotless ı is not caseless-equal to I


@given(WORD, st.lists(st.tuples(SEPARATORS, WORD), max_size=5), st.data())
def test_a_listed_word_is_found_in_any_case_and_accent(
    word: str, around: list[tuple[str, str]], data: st.DataObject
) -> None:
    """A listed word is found wherever it stands as a word, however it is cased or accented."""
    cut = data.draw(st.integers(0, len(around)))
    # Case variants are those Unicode calls caseless-equal (same casefold): "ı".upper() is "I",
    # whose casefold is "i", another letter, and an "ı" on the list must not refuse every "I".
    cased = [word.upper(), word.lower(), word.title()]
    same = [variant for variant in cased if variant.casefold() == word.casefold()]
    variant = data.draw(st.sampled_from([*same, decompose(word)]))
    parts = [text for sep, other in around[:cut] for text in (other, sep)]
    parts += [variant] + [text for sep, other in around[cut:] for text in (sep, other)]
    assert WordList([word]).find("".join(parts)) == word


@given(WORD, WORD, WORD)
def test_no_hit_inside_a_longer_word(word: str, before: str, after: str) -> None:
    """A word glued to letters on either side is another word: no hit."""
    listed = WordList([word])
    glued = before + word + after
    if fold(glued) != fold(word):  # the glued word must really be longer
        assert listed.find(glued) is None


@given(st.text(max_size=40))
def test_folding_is_stable(text: str) -> None:
    """Folding twice is folding once, so a list entry and the text fold to the same form."""
    assert fold(fold(text)) == fold(text)


def decompose(word: str) -> str:
    return unicodedata.normalize("NFD", word)


async def test_hold_words_hold_and_refuse_words_refuse(start_server: Any) -> None:
    """A held word sends the comment to the queue naming the word; a refused one is 422."""
    server = start_server(hold_words=["casino"], refuse_words=["idiot", "buy now"])
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        await http.put("/api/articles/w", json={"title": "W"}, headers=OWNER)
        held = await post_comment(http, "w", body="Best CASINÒ in town")
        assert held.status_code == 201 and held.json()["status"] == "pending"
        queue = (await http.get("/api/admin/pending", headers=OWNER)).json()["pending"]
        assert queue[0]["reason"] == "contains “casino” (hold_words)"
        refused = await post_comment(http, "w", body="You IDIOT.")
        assert_error(refused, 422, "body")
        error = refused.json()["error"]
        assert error["code"] == "refused_word" and "idiot" in error["message"]
        assert "refuse_words" in error["message"]
        assert_error(await post_comment(http, "w", author="Idiot", body="hi"), 422, "author")
        assert_error(await post_comment(http, "w", body="buy\nnow"), 422, "body")
        fine = await post_comment(http, "w", body="Idiotic casinos buy nowhere")
        assert fine.json()["status"] == "published"
        assert (await http.get("/api/articles/w")).json()["count"] == 1


async def test_an_authors_edit_is_screened_too(start_server: Any) -> None:
    """An author cannot edit a refused word in after posting; the lists are shown to moderators."""
    server = start_server(refuse_words=["idiot"])
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        await http.put("/api/articles/w", json={"title": "W"}, headers=OWNER)
        created = (await post_comment(http, "w", body="nice")).json()
        mine = {"Authorization": f"Bearer {created['token']}"}
        url = f"/api/comments/{created['comment']['id']}"
        assert_error(await http.patch(url, json={"body": "you idiot"}, headers=mine), 422, "body")
        assert (await http.get(url)).json()["body"] == "nice"
        lists = (await http.get("/api/admin/words", headers=OWNER)).json()
        assert lists == {"hold_words": [], "refuse_words": ["idiot"]}


def write_config(path: Path, hold: list[str], refuse: list[str]) -> None:
    quoted = lambda items: "[" + ", ".join(f'"{item}"' for item in items) + "]"  # noqa: E731
    path.write_text(f"hold_words = {quoted(hold)}\nrefuse_words = {quoted(refuse)}\n")


async def test_sighup_and_the_admin_page_reload_the_lists(tmp_path: Path) -> None:
    """`realtime serve --config F`: SIGHUP reads F again; so does POST /api/admin/words/reload."""
    config = tmp_path / "words.toml"
    write_config(config, [], ["spam"])
    server = ProcessServer(
        tmp_path / "w.sqlite", env={"REALTIME_ADMIN_TOKEN": ADMIN}, config=config
    ).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            await http.put("/api/articles/w", json={"title": "W"}, headers=OWNER)
            assert (await post_comment(http, "w", body="ham")).status_code == 201
            assert_error(await post_comment(http, "w", body="spam"), 422, "body")
            write_config(config, [], ["ham"])
            assert server.proc is not None
            server.proc.send_signal(signal.SIGHUP)

            async def ham_refused() -> bool:
                return (await post_comment(http, "w", body="ham again")).status_code == 422

            await wait_until(ham_refused)
            assert (await post_comment(http, "w", body="spam")).status_code == 201
            write_config(config, ["ham"], [])
            reloaded = await http.post("/api/admin/words/reload", headers=OWNER)
            assert reloaded.json() == {"hold_words": ["ham"], "refuse_words": []}
            held = await post_comment(http, "w", body="more ham")
            assert held.json()["status"] == "pending"
            config.write_text("hold_words = 3\n")
            assert_error(await http.post("/api/admin/words/reload", headers=OWNER), 422, "config")
            still = (await http.get("/api/admin/words", headers=OWNER)).json()
            assert still == {"hold_words": ["ham"], "refuse_words": []}
    finally:
        server.stop()


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    """Try an async check (each try a real request) until it holds."""
    async with asyncio.timeout(timeout * UNIT):
        while not await check():
            await asyncio.sleep(0.05)
