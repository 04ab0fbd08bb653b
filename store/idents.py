"""Identifier-like tokens and their OCR look-alike folding (for search, migration 0009).

Clerks search by the codes printed on paper (accession, claim, member, policy and order
numbers). OCR confuses look-alike characters in exactly those strings, so each page also
indexes its identifier-like tokens in a folded form, and a query's identifier is folded
the same way:

- identifier-like: a run of letters and digits (hyphens inside are dropped: "ACC-20931"
  is "ACC20931") of 6 to 16 characters holding at least one digit. A query is folded only
  then: words stay words ("SOLO" does not meet "5010"). On a page, OCR sometimes reads every
  digit of a code as a letter ("SB0VASWT" as "SBOVASWT"), so a page's letter run in capitals
  or in mixed case ("LesRRYWW") counts too; lower-case and capitalised words never do.
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
    "FOLDED_ALPHABET",
    "fold",
    "insertions",
    "substitutions",
    "folded_token",
    "collapsed_token",
    "identifier_index",
    "identifier_spans",
    "identifiers",
    "is_identifier",
    "read_as_code",
]

ID_MIN, ID_MAX = 6, 16  # identifier length (characters, hyphens not counted); 16: a doubled 15
EDIT_MIN = 8  # identifiers this long also match with one character dropped or doubled

# Letter-digit runs joined by hyphens; OCR often puts a space beside a hyphen ("GS-8671- 409B6")
# and reads a character of a code as a symbol ("MRS5Q@6116", "SYSIR&5"): inside a run, @ & $ ! |
# count as the character they stand for.
_RUN = r"[A-Za-z0-9](?:[A-Za-z0-9]|[@&$!|](?=[A-Za-z0-9]))*"
_CANDIDATE = re.compile(rf"{_RUN}(?: ?- ?{_RUN})*")
_SPACED_HYPHEN = re.compile(r" - ?|- ")
_SYMBOLS = str.maketrans("@&$!|", "08511")
_FOLD = str.maketrans("odqilz7s3bg", "00011215886")
FOLDED_ALPHABET = "01245689acefhjkmnprtuvwxy"  # what fold() leaves


def is_identifier(token: str) -> bool:
    """A run of ASCII letters and digits, 6-16 long, with at least one digit."""
    return (
        ID_MIN <= len(token) <= ID_MAX
        and token.isascii()
        and token.isalnum()
        and any(c.isdigit() for c in token)
    )


def read_as_code(token: str) -> bool:
    """An identifier, or a letter run OCR may have made of one: capitals, or a capital after
    the first letter (never a lower-case or capitalised word)."""
    if is_identifier(token):
        return True
    if not (ID_MIN <= len(token) <= ID_MAX and token.isascii() and token.isalpha()):
        return False
    return token.isupper() or any(c.isupper() for c in token[1:])


def identifier_spans(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, token) of each stretch of ``text`` that may be an identifier as read
    (the token without its hyphens and spaces, symbols read as characters), in order."""
    for match in _CANDIDATE.finditer(text):
        found = False
        for start, stop in _pieces(match.group(0)):
            token = match.group(0)[start:stop].replace("-", "").replace(" ", "").translate(_SYMBOLS)
            if read_as_code(token):
                found = True
                yield match.start() + start, match.start() + stop, token
        if not found and "-" in match.group(0):
            # A hyphenated run too long as a whole: its parts may be identifiers themselves.
            for part in re.finditer(_RUN, match.group(0)):
                token = part.group(0).translate(_SYMBOLS)
                if read_as_code(token):
                    yield match.start() + part.start(), match.start() + part.end(), token


def _pieces(run: str) -> list[tuple[int, int]]:
    """The whole run, and its stretches between hyphens with a space beside them (the space
    may join the next word: "GD-4027-68219- Date")."""
    pieces = [(0, len(run))]
    cuts = [(m.start(), m.end()) for m in _SPACED_HYPHEN.finditer(run)]
    if cuts:
        edges = [0, *(x for cut in cuts for x in cut), len(run)]
        pieces += [(edges[i], edges[i + 1]) for i in range(0, len(edges), 2)]
    return pieces


def identifiers(text: str) -> Iterator[str]:
    """The tokens of a page that may be identifiers as read (hyphens dropped), in order."""
    return (token for _, _, token in identifier_spans(text))


def fold(token: str) -> str:
    """The look-alike-folded form of an identifier (see the module doc)."""
    return token.lower().replace("rn", "m").translate(_FOLD)


def collapse(folded: str) -> str:
    """Runs of one character made one."""
    return re.sub(r"(.)\1+", r"\1", folded)


def deletions(folded: str) -> list[str]:
    """Every distinct string made by dropping one character."""
    return sorted({folded[:i] + folded[i + 1 :] for i in range(len(folded))})


def substitutions(folded: str) -> list[str]:
    """Every string made by changing one character to another of the folded alphabet."""
    return sorted(
        {folded[:i] + c + folded[i + 1 :] for i in range(len(folded)) for c in FOLDED_ALPHABET} - {folded}
    )


def insertions(folded: str) -> list[str]:
    """Every string made by inserting one character of the folded alphabet."""
    return sorted({folded[:i] + c + folded[i:] for i in range(len(folded) + 1) for c in FOLDED_ALPHABET})


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
