"""Answer text: the `[(x, y)]` / `NOT_VISIBLE` format the tasks ask for and its tolerant parser."""

from __future__ import annotations

import re
from dataclasses import dataclass

NOT_VISIBLE = "NOT_VISIBLE"
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_POINT_RE = re.compile(r"\[\s*\(\s*(" + _NUM + r")\s*,\s*(" + _NUM + r")\s*\)")
_LOOSE_RE = re.compile(r"\(\s*(" + _NUM + r")\s*,\s*(" + _NUM + r")\s*\)")


@dataclass(frozen=True)
class Answer:
    """A parsed answer: `kind` is "point", "not_visible" or "unparseable"."""

    kind: str
    point: tuple[float, float] | None = None


def format_point(x: float, y: float, digits: int = 3) -> str:
    return f"[({x:.{digits}f}, {y:.{digits}f})]"


def parse_answer(text: str | None) -> Answer:
    """NOT_VISIBLE anywhere wins; else the first `[(x, y)]` (or, failing that, the first `(x, y)`)."""
    if not text:
        return Answer("unparseable")
    if NOT_VISIBLE in text.upper().replace(" ", "_"):
        return Answer("not_visible")
    m = _POINT_RE.search(text) or _LOOSE_RE.search(text)
    if not m:
        return Answer("unparseable")
    return Answer("point", (float(m.group(1)), float(m.group(2))))
