"""Clinical notes in many styles, written from the data files in ``templates/``.

``templates/pools.yaml`` holds what every note may draw on: specialties (each with its
problems, complaints, findings, studies, operations, drugs and advice), names, and
shared phrases. ``templates/<doc_type>.yaml`` holds one type's *styles*: a dictated
consultation, a letter back to the referring physician, a short office note, a long
discharge summary... Each style is a list of sections; a section has heading variants
(or none), a chance of being kept, and sentence variants with slots::

    - heading: [REASON FOR CONSULTATION, Reason for consult]
      keep: 0.8
      say: ["Asked by {referrer} to see {him} for {problem}.", ...]
      n: [1, 2]            # how many of the sentences (default 1)

A slot ``{name}`` is drawn once per note and then repeated (the note's one problem, one
referring doctor); ``{name*}`` is drawn afresh each time (another finding). Slots come
from the note's specialty, then from the shared pools, then from the note itself (age,
pronouns, dates, vitals); pool entries may hold slots of their own. ``{She}`` is the
capitalized ``{she}``.

Each note is then written in one of several heading styles (capitals with a colon and
the text on the same line, the heading on a line of its own, title case, or no headings
at all for narrative styles), sometimes with a title line and sometimes without, and
comes back both as text and as render blocks for scanning.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final

import yaml

from chartclerk.classify.doctype import DOC_TYPES
from chartclerk.classify.training.render import Block, Layout, random_layout
from chartclerk.errors import ModelError

__all__ = ["ClinicalNote", "clinical_note", "clinical_types", "style_names"]

_SLOT: Final = re.compile(r"\{([A-Za-z_]+)(\*?)\}")
_MAX_DEPTH: Final = 6


@dataclass(frozen=True, slots=True)
class Section:
    headings: tuple[str, ...]
    keep: float
    say: tuple[str, ...]
    n: tuple[int, int]


@dataclass(frozen=True, slots=True)
class Style:
    name: str
    weight: float
    headings: bool  # False: narrative, headings never printed
    shuffle: bool  # the middle sections may come in another order
    sections: tuple[Section, ...]


@dataclass(frozen=True, slots=True)
class TypeTemplates:
    doc_type: str
    titles: tuple[str, ...]
    title_share: float
    styles: tuple[Style, ...]


@dataclass(frozen=True, slots=True)
class ClinicalNote:
    doc_type: str
    seed: int
    style: str  # "<doc_type>/<style name>": the family a note belongs to
    blocks: tuple[Block, ...]
    layout: Layout
    titled: bool

    @property
    def text(self) -> str:
        return "\n".join(b.text for b in self.blocks if b.style != "blank")


def _read(name: str) -> Any:
    try:
        text = resources.files("chartclerk.classify.training").joinpath("templates", name).read_text("utf-8")
        return yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as e:
        raise ModelError(f"cannot read training template {name} ({type(e).__name__})") from e


@cache
def _pools() -> dict[str, Any]:
    data = _read("pools.yaml")
    if not isinstance(data, dict) or "specialties" not in data:
        raise ModelError("training template pools.yaml has no specialties")
    return data


def _section(raw: dict[str, Any]) -> Section:
    heading = raw.get("heading", [])
    headings = (heading,) if isinstance(heading, str) else tuple(heading)
    n = raw.get("n", [1, 1])
    low, high = (n, n) if isinstance(n, int) else (int(n[0]), int(n[1]))
    return Section(headings, float(raw.get("keep", 1.0)), tuple(str(s) for s in raw["say"]), (low, high))


@cache
def _templates(doc_type: str) -> TypeTemplates:
    raw = _read(f"{doc_type}.yaml")
    try:
        styles = tuple(
            Style(
                name=str(s["name"]),
                weight=float(s.get("weight", 1.0)),
                headings=bool(s.get("headings", True)),
                shuffle=bool(s.get("shuffle", False)),
                sections=tuple(_section(x) for x in s["sections"]),
            )
            for s in raw["styles"]
        )
        return TypeTemplates(
            doc_type, tuple(raw.get("titles", ())), float(raw.get("title_share", 0.2)), styles
        )
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise ModelError(f"training template {doc_type}.yaml is malformed ({type(e).__name__}: {e})") from e


def clinical_types() -> tuple[str, ...]:
    """The types that have clinical-style templates."""
    folder = resources.files("chartclerk.classify.training").joinpath("templates")
    return tuple(t for t in DOC_TYPES if folder.joinpath(f"{t}.yaml").is_file())


def style_names(doc_type: str) -> tuple[str, ...]:
    return tuple(f"{doc_type}/{s.name}" for s in _templates(doc_type).styles)


class _Filler:
    """Fills the slots of one note."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        pools = _pools()
        self.shared: dict[str, list[str]] = {k: v for k, v in pools.items() if k != "specialties"}
        self.specialty: dict[str, Any] = rng.choice(pools["specialties"])
        female = rng.random() < 0.5
        self.fixed: dict[str, str] = {
            "she": "she" if female else "he",
            "her": "her" if female else "his",
            "him": "her" if female else "him",
            "hers": "hers" if female else "his",
            "specialty": str(self.specialty["name"]),
            "clinician": str(self.specialty.get("clinician", "specialist")),
        }
        age = rng.randint(19, 93)
        sex = rng.choice(("woman", "female", "lady") if female else ("man", "male", "gentleman"))
        self.fixed["age"] = str(age)
        self.fixed["who"] = f"{age}-year-old {sex}"
        self.day = dt.date(2018, 1, 1) + dt.timedelta(days=rng.randint(0, 2500))

    def _generated(self, name: str) -> str | None:
        r = self.rng
        if name == "date":
            d = self.day + dt.timedelta(days=r.randint(-30, 30))
            return r.choice(
                (
                    f"{d.month}/{d.day}/{d.year}",
                    d.strftime("%B %d, %Y"),
                    f"{d.month:02d}/{d.day:02d}/{d.year % 100:02d}",
                )
            )
        if name == "days":
            return str(r.randint(2, 14))
        if name == "weeks":
            return str(r.randint(2, 12))
        if name == "number":
            return str(r.randint(2, 9))
        if name == "vitals":
            return r.choice((
                f"BP {r.randint(98, 176)}/{r.randint(56, 102)}, HR {r.randint(52, 118)}, RR {r.randint(12, 26)}, "
                f"T {r.choice(('97.9', '98.6', '99.3', '101.1'))}, SpO2 {r.randint(88, 100)}%",
                f"blood pressure {r.randint(98, 176)}/{r.randint(56, 102)}, heart rate {r.randint(52, 118)}, "
                f"afebrile, saturating {r.randint(88, 100)}% on room air",
                f"Temp {r.choice(('36.7', '37.9', '38.4'))} C, pulse {r.randint(52, 118)}, BP {r.randint(98, 176)}/{r.randint(56, 102)}, "
                f"weight {r.randint(48, 160)} kg",
            ))  # fmt: skip
        return None

    def _borrowed(self, name: str) -> list[str]:
        """A specialty without an item of its own (no operations in psychiatry) borrows
        from another one."""
        having = [s[name] for s in _pools()["specialties"] if s.get(name)]
        return list(self.rng.choice(having)) if having else []

    def value(self, name: str, fresh: bool, depth: int) -> str:
        lower = name[0].lower() + name[1:]
        capital = name != lower
        if not fresh and lower in self.fixed:
            out = self.fixed[lower]
        else:
            generated = self._generated(lower)
            if generated is not None:
                out = generated
            else:
                pool = self.specialty.get(lower) or self.shared.get(lower) or self._borrowed(lower)
                if not pool:
                    raise ModelError(f"training templates use an unknown slot {{{name}}}")
                out = self.fill(str(self.rng.choice(pool)), depth + 1)
            if not fresh:
                self.fixed[lower] = out
        return out[:1].upper() + out[1:] if capital else out

    def fill(self, template: str, depth: int = 0) -> str:
        if depth > _MAX_DEPTH:
            raise ModelError("training template slots nest too deep")
        return _SLOT.sub(lambda m: self.value(m.group(1), m.group(2) == "*", depth), template)


def clinical_note(doc_type: str, seed: int) -> ClinicalNote:
    """One clinical-style note of ``doc_type``; the same (type, seed) always gives the same note."""
    templates = _templates(doc_type)
    rng = random.Random(f"clinical:{doc_type}:{seed}")
    style = rng.choices(templates.styles, weights=[s.weight for s in templates.styles])[0]
    filler = _Filler(rng)
    chosen: list[tuple[str, str]] = []
    for section in style.sections:
        if rng.random() >= section.keep:
            continue
        count = rng.randint(*section.n)
        sentences = rng.sample(section.say, min(count, len(section.say)))
        text = " ".join(filler.fill(s) for s in sentences)
        heading = rng.choice(section.headings) if section.headings and style.headings else ""
        chosen.append((heading, " ".join(text.split())))
    if style.shuffle and len(chosen) > 3 and rng.random() < 0.4:
        middle = chosen[1:-1]
        rng.shuffle(middle)
        chosen = [chosen[0], *middle, chosen[-1]]
    look = rng.choice(("inline_caps", "inline_caps", "line_caps", "line_title", "inline_title"))
    blocks: list[Block] = []
    titled = bool(templates.titles) and rng.random() < templates.title_share
    if titled:
        title = filler.fill(rng.choice(templates.titles))
        blocks.append(Block("title", (title.upper() if rng.random() < 0.5 else title,)))
    for heading, text in chosen:
        if not heading:
            blocks.append(Block("para", (text,)))
            continue
        shown = heading.upper() if look.endswith("caps") else heading
        if look.startswith("inline"):
            blocks.append(Block("para", (f"{shown}: {text}",)))
        else:
            blocks += [
                Block("heading", (f"{shown}:" if rng.random() < 0.7 else shown,)),
                Block("para", (text,)),
            ]
    return ClinicalNote(doc_type, seed, f"{doc_type}/{style.name}", tuple(blocks), random_layout(rng), titled)
