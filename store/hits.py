"""Where a search's words are on a page: the word boxes a viewer draws over the page image.

The search (chartclerk.store.search) finds pages with FTS5's porter-stemmed tokens; here the
same query is split the same way (``fts_terms``) and compared with each page's OCR words
(``Archive.page_words``), token by token: letters and digits only, case-folded, and reduced by
a light suffix stemmer (-s, -es, -ed, -ing, -ly, a final -e) so "fractures" finds "fracture"
and "admitted" finds "admit". A phrase matches consecutive tokens. Where the light stemmer and
porter disagree (rare) a box may be missing; the page is still listed as a hit.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from chartclerk.store.models import WordBox
from chartclerk.store.search import fts_terms

__all__ = ["HitBox", "hit_boxes", "stem"]

_TOKEN = re.compile(r"[^\W_]+")
_SUFFIXES = ("ing", "ed", "es", "ly", "s")


@dataclass(frozen=True, slots=True)
class HitBox:
    """A matched word's box (fractions of the page, origin top-left) and which term it matched."""

    left: float
    top: float
    width: float
    height: float
    term: int  # index of the query term
    word: int  # index of the word on the page


def stem(token: str) -> str:
    token = unicodedata.normalize("NFKC", token).casefold()
    for suffix in _SUFFIXES:
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            token = token[: -len(suffix)]
            break
    # "admitted" -> "admitt" -> "admit": a doubled final consonant left by -ed/-ing
    if len(token) >= 4 and token[-1] == token[-2] and token[-1] not in "aeiouls":
        token = token[:-1]
    # "fracture" and "fractures" -> "fractur", as porter has them
    if len(token) >= 4 and token.endswith("e"):
        token = token[:-1]
    return token


def hit_boxes(words: Sequence[WordBox], query: str) -> list[HitBox]:
    """The boxes of the page's words that match the query's terms, in reading order."""
    terms = [[stem(w) for w in term] for term in fts_terms(query)]
    if not terms or not words:
        return []
    tokens: list[tuple[str, int]] = []  # (stemmed token, index of its word)
    for index, word in enumerate(words):
        tokens.extend((stem(t), index) for t in _TOKEN.findall(word.text))
    hit_words: dict[int, int] = {}
    for term_index, term in enumerate(terms):
        size = len(term)
        for start in range(len(tokens) - size + 1):
            if all(tokens[start + k][0] == term[k] for k in range(size)):
                for k in range(size):
                    hit_words.setdefault(tokens[start + k][1], term_index)
    return [
        HitBox(w.left, w.top, w.width, w.height, term, index)
        for index, term in sorted(hit_words.items())
        for w in (words[index],)
    ]
