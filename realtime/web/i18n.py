"""The message catalog on the server: the same JSON files the browser client reads.

`static/i18n/{lang}.json` holds every text of the pages, the embed and the admin page: flat keys,
`{name}` placeholders, and for plurals an object of CLDR categories (`{"one": …, "other": …}`).
The client picks a category with `Intl.PluralRules`; here Babel (the CLDR data behind most
Python i18n) does the same, and formats numbers, dates and relative times as `Intl` does, so the
page the server renders reads like the one the client renders.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, cast

from babel import Locale
from babel.dates import format_date, format_time, format_timedelta, get_datetime_format
from babel.dates import get_relative_name as babel_relative_name
from babel.numbers import format_decimal

Language = Literal["en", "nb"]
LANGUAGES: tuple[Language, ...] = ("en", "nb")
Message = str | dict[str, str]
Unit = Literal["year", "month", "week", "day", "hour", "minute"]
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Units of "5 minutes ago", largest first, as static/format.js steps through them.
_STEPS: tuple[tuple[Unit, int], ...] = (
    ("year", 365 * 86400),
    ("month", 30 * 86400),
    ("week", 7 * 86400),
    ("day", 86400),
    ("hour", 3600),
    ("minute", 60),
)


def load_catalogs(directory: Path) -> dict[Language, dict[str, Message]]:
    """Every shipped language's messages; a missing or malformed file stops start-up."""
    catalogs: dict[Language, dict[str, Message]] = {}
    for lang in LANGUAGES:
        path = directory / f"{lang}.json"
        catalogs[lang] = cast(dict[str, Message], json.loads(path.read_text(encoding="utf-8")))
    return catalogs


def fill(template: str, params: dict[str, object]) -> str:
    """`{name}` replaced by its parameter; an unknown placeholder stays visible, as in the JS."""
    return _PLACEHOLDER.sub(lambda m: str(params.get(m.group(1), m.group(0))), template)


def parse_time(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)


@dataclass(frozen=True)
class Translator:
    """One language's messages and formats, as the templates call them (`t`, `n`, `ago`)."""

    lang: Language
    messages: dict[str, Message]

    @property
    def locale(self) -> Locale:
        return Locale.parse(self.lang)

    def t(self, key: str, **params: object) -> str:
        message = self.messages[key]
        if not isinstance(message, str):
            raise KeyError(f"{key} is a plural message: use n()")
        return fill(message, params)

    def n(self, key: str, count: int, **params: object) -> str:
        """A plural message: the CLDR category of `count` picks the form; {n} is the number."""
        forms = self.messages[key]
        if isinstance(forms, str):
            raise KeyError(f"{key} is not a plural message: use t()")
        form = forms.get(self.locale.plural_form(count)) or forms["other"]
        return fill(form, {**params, "n": self.number(count)})

    def number(self, value: int) -> str:
        return format_decimal(value, locale=self.locale)

    def full_date(self, iso: str) -> str:
        """Medium date and short time, as `Intl.DateTimeFormat(lang, {dateStyle: 'medium',
        timeStyle: 'short'})` writes them (in UTC: the server does not know the reader's zone)."""
        moment = parse_time(iso)
        pattern = str(get_datetime_format("medium", locale=self.locale)).replace("'", "")
        date = format_date(moment, "medium", locale=self.locale)
        time = format_time(moment, "short", tzinfo=UTC, locale=self.locale)
        # CLDR puts a narrow no-break space before "PM"; browsers print a plain space there
        # (V8 changed back for web compatibility), so the page does too.
        return pattern.replace("{1}", date).replace("{0}", time).replace("\u202f", " ")

    def ago(self, iso: str, now: datetime) -> str:
        """ "just now", "5 minutes ago", "yesterday": static/format.js's `ago` on the server."""
        seconds = min(0.0, (parse_time(iso) - now).total_seconds())
        if abs(seconds) < 45:
            return self.t("time.just_now")
        for unit, size in _STEPS:
            if abs(seconds) >= size or unit == "minute":
                return self.relative(_round_half_up(seconds / size), unit, size)
        return self.t("time.just_now")

    def relative(self, value: int, unit: Unit, size: int) -> str:
        """`Intl.RelativeTimeFormat(lang, {numeric: 'auto'}).format(value, unit)`."""
        named = babel_relative_name(unit, value, locale=self.locale)
        if named:
            return str(named)
        delta = timedelta(seconds=value * size)
        # An infinite threshold keeps the unit chosen above (Babel would otherwise pick its own).
        return format_timedelta(
            delta, granularity=unit, threshold=math.inf, add_direction=True, locale=self.locale
        )


def _round_half_up(value: float) -> int:
    """JavaScript's Math.round (Python's round() goes to the even neighbour)."""
    return math.floor(value + 0.5)
