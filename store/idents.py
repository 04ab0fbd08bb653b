"""Identifier-like tokens and their OCR look-alike folding (for search, migration 0009).

Clerks search by the codes printed on paper (accession, claim, member, policy and order
numbers). OCR confuses look-alike characters in exactly those strings, so each page also
indexes its identifier-like tokens in a folded form, and a query's identifier is folded
the same way:

- identifier-like: a run of letters and digits (hyphens inside are dropped: "ACC-20931"
  is "ACC20931") of 6 to 16 characters holding at least one digit. Words without a digit
  are never folded ("SOLO" stays a word and does not meet "5010").
- folded: lower case, then ``rn`` -> ``m``, and each look-alike class to one character:
  0/O/D/Q -> 0, 1/I/L/7 -> 1, 5/S -> 5, 8/B/3 -> 8, 2/Z -> 2, 6/G -> 6.
- collapsed: the folded form with runs of one character made one (a doubled or a dropped
  repeated character); indexed for folded forms of 8 or more characters.

Index tokens end in ``0`` so FTS5's porter stemmer (which only strips letter endings)
leaves them alone: ``f<folded>0`` and ``c<collapsed>0``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = [
    "EDIT_MIN",
    "ID_MAX",
    "ID_MIN",
    "collapse",
    "deletions",
    "fold",
    "folded_token",
    "collapsed_token",
    "identifier_index",
    "identifiers",
    "is_identifier",
]

ID_MIN, ID_MAX = 6, 16  # identifier length (characters, hyphens not counted); 16: a doubled 15
EDIT_MIN = 8  # identifiers this long also match with one character dropped or doubled

_CANDIDATE = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
_FOLD = str.maketrans("odqilz7s3bg", "00011215886")


def is_identifier(token: str) -> bool:
    """A run of ASCII letters and digits, 6-16 long, with at least one digit."""
    return (
        ID_MIN <= len(token) <= ID_MAX
        and token.isascii()
        and token.isalnum()
        and any(c.isdigit() for c in token)
    )


def identifiers(text: str) -> Iterator[str]:
    """The identifier-like tokens of ``text`` as read (hyphens dropped), in order."""
    for match in _CANDIDATE.finditer(text):
        token = match.group(0).replace("-", "")
        if is_identifier(token):
            yield token
        elif "-" in match.group(0):
            # A hyphenated run too long as a whole: its parts may be identifiers themselves.
            yield from (part for part in match.group(0).split("-") if is_identifier(part))


def fold(token: str) -> str:
    """The look-alike-folded form of an identifier (see the module doc)."""
    return token.lower().replace("rn", "m").translate(_FOLD)


def collapse(folded: str) -> str:
    """Runs of one character made one."""
    return re.sub(r"(.)\1+", r"\1", folded)


def deletions(folded: str) -> list[str]:
    """Every distinct string made by dropping one character."""
    return sorted({folded[:i] + folded[i + 1 :] for i in range(len(folded))})


def folded_token(folded: str) -> str:
    return f"f{folded}0"


def collapsed_token(folded: str) -> str:
    return f"c{collapse(folded)}0"


def identifier_index(text: str) -> str:
    """A page's look-alike index column: its identifiers' folded (and, from EDIT_MIN - 1
    characters, collapsed) tokens, space-separated, each once."""
    tokens: dict[str, None] = {}
    for token in identifiers(text):
        folded = fold(token)
        tokens[folded_token(folded)] = None
        if len(folded) >= EDIT_MIN - 1:
            tokens[collapsed_token(folded)] = None
    return " ".join(tokens)
