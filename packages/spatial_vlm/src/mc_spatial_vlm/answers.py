"""Answer text: the `[(x, y)]` / `NOT_VISIBLE` format the tasks ask for, parsed by the seed's rules.

The seed's evaluator (RoboRefer-FineTuning `tools/eval_spatial_tasks.py`) reads answers so, and
`mc` reads them the same way, so that its figures compare with the seed's:

- a model's answer (`parse_prediction`): `NOT_VISIBLE` anywhere in the upper-cased text means not
  visible; otherwise the first `[(x, y)]` whose numbers are digits and dots (no sign, no exponent,
  no space between `[` and `(` or between `)` and `]`); anything else has no point. So
  `not visible`, `NOT VISIBLE`, `(x, y)` without brackets and `[(-0.1, 0.5)]` have no point, while
  `NOT VISIBLE [(x, y)]` is the point and `[(1.4, 0.2)]` is a point outside the image.
- a ground-truth answer (`parse_gt`): not visible only when the whole upper-cased text is
  `NOT_VISIBLE`; otherwise the first `[(x, y)]` as above.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NOT_VISIBLE = "NOT_VISIBLE"
_POINT_RE = re.compile(r"\[\(\s*([0-9.]+)\s*,\s*([0-9.]+)\s*\)\]")

POINT, NOT_VISIBLE_KIND, UNPARSEABLE = "point", "not_visible", "unparseable"


@dataclass(frozen=True)
class Answer:
    """A parsed answer: `kind` is "point", "not_visible" or "unparseable"."""

    kind: str
    point: tuple[float, float] | None = None

    @property
    def not_visible(self) -> bool:
        return self.kind == NOT_VISIBLE_KIND


def format_point(x: float, y: float, digits: int = 3) -> str:
    """`[(x, y)]` with `digits` decimals (the builder's answer text)."""
    return f"[({x:.{digits}f}, {y:.{digits}f})]"


def _first_point(text: str) -> Answer:
    m = _POINT_RE.search(text)
    if not m:
        return Answer(UNPARSEABLE)
    try:
        return Answer(POINT, (float(m.group(1)), float(m.group(2))))
    except ValueError:  # "1.2.3" or "." match the character class but are not numbers
        return Answer(UNPARSEABLE)


def parse_prediction(text: str | None) -> Answer:
    """A model's answer: NOT_VISIBLE anywhere (upper-cased) wins; else the first `[(x, y)]`."""
    if not text:
        return Answer(UNPARSEABLE)
    if NOT_VISIBLE in text.upper():
        return Answer(NOT_VISIBLE_KIND)
    return _first_point(text)


def parse_gt(text: str | None) -> Answer:
    """A ground-truth answer: exactly NOT_VISIBLE (any case) is not visible; else the first `[(x, y)]`."""
    if text is None:
        return Answer(UNPARSEABLE)
    text = str(text)
    if text.upper() == NOT_VISIBLE:
        return Answer(NOT_VISIBLE_KIND)
    return _first_point(text)


parse_answer = parse_prediction  # the name earlier releases used
