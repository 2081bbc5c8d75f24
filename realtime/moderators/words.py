"""Word lists: words that hold a comment for a moderator, and words that refuse it outright.

Matching is on whole words, ignoring case and accents, in any script: both the text and the
list are cut into words (runs of letters, digits, underscores and combining marks), and each
word is folded (NFKD, casefolded, everything but letters and digits dropped: the accents). "Å"
folds to "a" as "å" does, "Straße" matches "STRASSE", and "ass" is not found in "class" or
"assessment". A list entry of several words ("buy now") matches those words in a row. Cutting
before folding matters: decomposed, "Å" is "A" and a ring that is not a word character, which
would cut "Åsa" in two.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_WORD = re.compile(r"\w+")


def fold(word: str) -> str:
    """A word without case or accents: the form in which text and lists are compared."""
    if word.isascii():
        return word.casefold()
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", word).casefold())
    return "".join(char for char in decomposed if char.isalnum() or char == "_")


def words(text: str) -> list[str]:
    """The words of `text`, folded. A word is a run of letters, digits, underscores and marks,
    cut before folding: NFKD may turn one letter into a letter and punctuation ("Ŀ" is "L·")."""
    if text.isascii():
        return _WORD.findall(text.casefold())
    found: list[str] = []
    start = None
    for index, char in enumerate(text):
        inside = char.isalnum() or char == "_" or unicodedata.category(char)[0] == "M"
        if inside and start is None:
            start = index
        elif not inside and start is not None:
            found.append(fold(text[start:index]))
            start = None
    if start is not None:
        found.append(fold(text[start:]))
    return [word for word in found if word]


class WordList:
    """The entries of one list, each kept as written (for messages) and as folded words."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.entries = [entry for entry in entries if words(entry)]
        self._single: dict[str, str] = {}
        self._phrases: list[tuple[tuple[str, ...], str]] = []
        for entry in self.entries:
            folded = tuple(words(entry))
            if len(folded) == 1:
                self._single.setdefault(folded[0], entry)
            else:
                self._phrases.append((folded, entry))

    def __bool__(self) -> bool:
        return bool(self.entries)

    def find(self, text: str) -> str | None:
        """The first entry that occurs in `text` as whole words, as the list writes it."""
        if not self.entries:
            return None
        found = words(text)
        for word in found:
            entry = self._single.get(word)
            if entry is not None:
                return entry
        for phrase, entry in self._phrases:
            size = len(phrase)
            for start in range(len(found) - size + 1):
                if tuple(found[start : start + size]) == phrase:
                    return entry
        return None


class WordRules:
    """Both lists, replaced whole when the settings are reloaded."""

    def __init__(self, hold: Iterable[str] = (), refuse: Iterable[str] = ()) -> None:
        self.hold = WordList(hold)
        self.refuse = WordList(refuse)
