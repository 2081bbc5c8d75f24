"""One message catalog in two languages: complete, used by pages, embed and admin page alike,
formatted as the browser's Intl formats it, and no English left on a Norwegian page."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from realtime.web.i18n import LANGUAGES, Translator, load_catalogs
from tests.browser import WAIT, Problems, StaticSite, embed_page, open_page, wait_live
from tests.conftest import ADMIN, SLUG, Site
from tests.servers import ROOT

expect.set_options(timeout=WAIT)
CATALOGS = load_catalogs(ROOT / "static" / "i18n")
EN, NB = CATALOGS["en"], CATALOGS["nb"]
PLACEHOLDER = re.compile(r"\{\w+\}")
USED_IN_JS = re.compile(r"\b(?:t|tn|tNodes)\('([\w.]+)'")
USED_IN_TEMPLATES = re.compile(r"\bt\.[tn]\([\"']([\w.]+)[\"']")
USED_IN_PYTHON = re.compile(r"\bt\.[tn]\(\s*\"([\w.]+)\"")


def forms(message: Any) -> list[str]:
    return [message] if isinstance(message, str) else list(message.values())


def test_catalogs_have_the_same_keys_and_placeholders() -> None:
    """Every key in both languages, with the same {placeholders} and the same kind (plural)."""
    assert set(EN) == set(NB)
    for key in EN:
        assert type(EN[key]) is type(NB[key]), key
        en = {p for form in forms(EN[key]) for p in PLACEHOLDER.findall(form)}
        nb = {p for form in forms(NB[key]) for p in PLACEHOLDER.findall(form)}
        assert en == nb, key
        if isinstance(EN[key], dict):
            assert set(EN[key]) >= {"one", "other"} and set(NB[key]) >= {"one", "other"}, key


def test_every_key_the_code_asks_for_is_in_the_catalog() -> None:
    """Keys named in the JS modules, the templates and the web layer all exist."""
    used: set[str] = set()
    for path in (ROOT / "static").glob("*.js"):
        used |= set(USED_IN_JS.findall(path.read_text()))
    for path in (ROOT / "templates").glob("*.html"):
        used |= set(USED_IN_TEMPLATES.findall(path.read_text()))
    for path in (ROOT / "realtime" / "web").glob("*.py"):
        used |= set(USED_IN_PYTHON.findall(path.read_text()))
    assert len(used) > 60
    assert sorted(used - set(EN)) == []


def test_server_plurals_numbers_and_times() -> None:
    """CLDR plural forms, grouping and relative times, as the browser would write them."""
    en, nb = Translator("en", EN), Translator("nb", NB)
    assert en.n("count.label", 1) == "1 comment" and en.n("count.label", 1200) == "1,200 comments"
    assert nb.n("count.label", 1) == "1 kommentar" and nb.n("count.label", 2) == "2 kommentarer"
    now = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
    ago = (now - timedelta(minutes=5)).isoformat()
    assert en.ago(ago, now) == "5 minutes ago" and nb.ago(ago, now) == "for 5 minutter siden"
    yesterday = (now - timedelta(days=1)).isoformat()
    assert en.ago(yesterday, now) == "yesterday" and nb.ago(yesterday, now) == "i går"


# ---- formats match the browser's Intl ---------------------------------------------------------

MOMENTS = [10, 50, 89, 90, 3000, 3599, 3600, 5400, 86_000, 90_000, 200_000, 700_000, 2_000_000]
MOMENTS += [5_000_000, 31_000_000, 40_000_000, 100_000_000]


@pytest.mark.browser
async def test_server_formats_match_the_clients(
    browser: Browser, make_site: Callable[..., Any], problems: Problems
) -> None:
    """`ago`, full dates and plurals agree between Babel and Chromium's Intl, in en and nb."""
    site: Site = await make_site()
    now = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
    isos = [(now - timedelta(seconds=s)).isoformat().replace("+00:00", "Z") for s in MOMENTS]
    page = await open_page(browser, f"{site.url}/", problems, timezone_id="UTC")
    for lang in LANGUAGES:
        server = Translator(lang, CATALOGS[lang])
        client = await page.evaluate(
            """async ([lang, isos, now]) => {
                const i18n = await import('/static/i18n.js');
                const format = await import('/static/format.js');
                await i18n.loadLanguage(location.origin, lang);
                return {
                    ago: isos.map((iso) => format.ago(iso, now)),
                    dates: isos.map((iso) => format.fullDate(iso)),
                    counts: [0, 1, 2, 21, 1000].map((n) => format.countLabel(n)),
                };
            }""",
            [lang, isos, now.timestamp() * 1000],
        )
        assert client["ago"] == [server.ago(iso, now) for iso in isos], lang
        assert client["dates"] == [server.full_date(iso) for iso in isos], lang
        labels = [server.t("count.label_none")] + [
            server.n("count.label", n) for n in (1, 2, 21, 1000)
        ]
        assert client["counts"] == labels, lang


# ---- no untranslated string -------------------------------------------------------------------


def english_only() -> list[re.Pattern[str]]:
    """Each English text that Norwegian says differently, as a pattern over a whole text."""
    patterns = []
    for key, message in EN.items():
        for form in forms(message):
            if form in forms(NB[key]):
                continue
            parts = PLACEHOLDER.split(form)
            patterns.append(re.compile(".+?".join(re.escape(part) for part in parts)))
    return patterns


ENGLISH = english_only()


def untranslated(texts: list[str]) -> list[str]:
    return sorted({t for t in texts if any(p.fullmatch(t.strip()) for p in ENGLISH)})


class Texts(HTMLParser):
    """Every text node and every aria-label, placeholder, title and alt of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.skip += tag in ("script", "style")
        for name, value in attrs:
            if name in ("aria-label", "placeholder", "title", "alt") and value:
                self.texts.append(value)

    def handle_endtag(self, tag: str) -> None:
        self.skip -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self.skip and data.strip():
            self.texts.append(data.strip())


def page_texts(html: str) -> list[str]:
    parser = Texts()
    parser.feed(html)
    return parser.texts


async def seed(site: Site) -> None:
    """Comments, a reply four deep (it names whom it answers), a held one, a second article."""
    await site.article("second-story", "Andre sak")
    parent = None
    for author in ("Kari", "Per", "Ola", "Kari", "Per"):
        parent = (await site.post(f"Innlegg fra {author}.", author=author, parent=parent))[
            "comment"
        ]["id"]
    await site.post("Holdt tilbake https://a.example https://b.example https://c.example")


async def test_server_rendered_pages_have_no_english_in_norwegian(
    make_site: Callable[..., Any],
) -> None:
    """Index, article (errors, reply, notices), admin, 404 and the refused form: all in nb."""
    site: Site = await make_site(language="nb")
    await seed(site)
    pages = [
        (await site.http.get(path)).text
        for path in ("/", f"/articles/{SLUG}", f"/articles/{SLUG}?reply=1&held=1", "/admin")
    ]
    pages.append((await site.http.get("/articles/missing")).text)
    refused = await site.http.post(f"/articles/{SLUG}", data={"body": "x"})
    errors = await site.http.post(
        f"/articles/{SLUG}",
        data={"csrf": re.findall(r'name="csrf" value="(\w+)"', pages[1])[0], "email": "x"},
        headers={"Origin": site.url},
    )
    assert errors.status_code == 422 and refused.status_code == 403
    pages += [refused.text, errors.text]
    texts = [text for page in pages for text in page_texts(page)]
    assert 'lang="nb"' in pages[0]
    assert "Skriv en kommentar." in texts and "svar til Kari" in texts
    assert untranslated(texts) == []


# ---- the same in Chromium, rendered by the client ------------------------------------------------

VISIBLE_TEXTS = """(selector) => {
    const root = document.querySelector(selector);
    const texts = root === document.body ? [document.title] : [];
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        if (!node.parentElement.closest('script, style') && node.data.trim()) texts.push(node.data);
    }
    for (const el of root.querySelectorAll('[aria-label], [placeholder], [title], [alt]')) {
        for (const name of ['aria-label', 'placeholder', 'title', 'alt']) {
            if (el.getAttribute(name)) texts.push(el.getAttribute(name));
        }
    }
    return texts;
}"""


async def client_texts(page: Page, within: str = "body") -> list[str]:
    texts: list[str] = await page.evaluate(VISIBLE_TEXTS, within)
    return texts


@pytest.mark.browser
async def test_client_rendered_pages_have_no_english_in_norwegian(
    browser: Browser, make_site: Callable[..., Any], problems: Problems
) -> None:
    """The live article (errors, reply, held notice, owner's buttons), index, admin: all nb."""
    site: Site = await make_site(language="nb", max_links=2)
    await seed(site)
    texts: list[str] = []
    page = await open_page(browser, site.article_url(), problems)
    await wait_live(page)
    form = page.locator("form.rt-form")
    await form.get_by_role("button", name="Publiser kommentar").click()
    await expect(form.locator("#rt-body-error")).to_have_text("Skriv en kommentar.")
    texts += await client_texts(page)
    await form.get_by_label("Kommentar").fill("Mitt eget innlegg.")
    await form.get_by_label("Navn").fill("Siri")
    await form.get_by_role("button", name="Publiser kommentar").click()
    await expect(page.locator(".rt-edit")).to_have_count(1)  # the author's own buttons
    announcer = page.locator("[aria-live=polite]")
    await expect(announcer).to_have_text("Kommentaren din er publisert.")
    await page.locator("#comment-1").get_by_role("button", name="Svar").first.click()
    await expect(form.locator(".rt-form-title")).to_have_text("Svar til Kari")
    await site.post("Nok et innlegg.", author="Ola")
    await expect(announcer).to_have_text("Ny kommentar fra Ola.")
    await expect(page.locator(".rt-heading")).to_contain_text("7 kommentarer")
    texts += await client_texts(page)

    index = await open_page(browser, f"{site.url}/", problems)
    await expect(index.locator("#status")).to_have_text("Direkte")
    texts += await client_texts(index)
    admin = await open_page(browser, f"{site.url}/admin", problems)
    await admin.get_by_label("Administratornøkkel").fill(ADMIN)
    await admin.get_by_role("button", name="Logg inn").click()
    await expect(admin.locator("#queue > .adm-item")).to_have_count(1)
    await expect(admin.locator(".adm-reason")).to_have_text("Holdt tilbake: mer enn 2 lenker")
    await expect(admin.locator("#thread-summary")).to_contain_text("åpent for nye kommentarer")
    texts += await client_texts(admin)
    assert untranslated(texts) == []


@pytest.mark.browser
async def test_embed_takes_its_language_from_data_lang(
    browser: Browser, make_site: Callable[..., Any], problems: Problems
) -> None:
    """On an English server, an embed with data-lang="nb" is Norwegian, throughout."""
    blog = StaticSite()
    try:
        site: Site = await make_site(allowed_origins=[blog.origin])
        await site.post("Hei fra bloggen.", author="Kari")
        blog.pages["/post.html"] = embed_page(site.url, SLUG).replace(
            f'data-article="{SLUG}"', f'data-article="{SLUG}" data-lang="nb"'
        )
        page = await open_page(browser, f"{blog.origin}/post.html", problems)
        await wait_live(page)
        await expect(page.locator(".rt-heading")).to_have_text(
            "1 kommentar til «NATO annual report»"
        )
        await expect(page.locator(".rt-status")).to_have_text("Direkte")
        assert untranslated(await client_texts(page, "#comments")) == []
        english = await open_page(browser, site.article_url(), problems)
        await expect(english.locator(".rt-heading")).to_have_text(
            "1 Comment on “NATO annual report”"
        )
    finally:
        blog.close()


async def test_catalog_endpoint_serves_each_language_to_any_origin(
    make_site: Callable[..., Any],
) -> None:
    """/i18n.json: the files on disk, for ?lang= or else the server's language, any origin."""
    site: Site = await make_site(language="nb")
    foreign = {"Origin": "https://blog.example"}
    for query, lang in (("?lang=en", "en"), ("?lang=nb", "nb"), ("", "nb"), ("?lang=xx", "nb")):
        response = await site.http.get(f"/i18n.json{query}", headers=foreign)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "*"
        assert response.json() == {"lang": lang, "messages": CATALOGS[lang]}
