"""What a text field may hold, checked at the edge (forms, serializers, admin).

Two kinds of text field:

- **single-line** (titles, names, slugs, targets): no control characters at all
  except TAB. A CR/LF in a title becomes an email header injection, a broken
  Slack announcement or a line of a log that looks like two; NUL and lone
  surrogates cannot be stored by PostgreSQL or encoded as UTF-8.
- **multi-line** (summaries, messages, notes): line breaks and TABs are text,
  but NUL, the other C0/C1 controls and lone surrogates are not.

The validators are deconstructible module-level callables so they can sit on
model fields (ModelForms, ModelSerializers and the admin run them) and be
passed to plain DRF fields and forms as ``validators=[...]``. Machine input that
cannot be fixed by whoever sent it (Alertmanager annotations) is normalised
instead, with ``one_line`` / ``storable``.
"""

import re

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

# C0 controls except TAB, DEL, C1 controls, and the Unicode line/paragraph
# separators (str.splitlines, JavaScript and many mail clients break lines on them).
_SINGLE_LINE_REFUSED = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
# What a multi-line text refuses: C0 controls except TAB, LF and CR; DEL; C1.
_MULTI_LINE_REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_BREAKS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]+")

_NAMES = {
    "\x00": "a NUL character",
    "\n": "a line break",
    "\r": "a carriage return",
    "\u2028": "a line separator",
    "\u2029": "a paragraph separator",
}


def _describe(char: str) -> str:
    return _NAMES.get(char, f"the control character U+{ord(char):04X}")


def unstorable(value: str) -> str | None:
    """Why PostgreSQL (or UTF-8) cannot take ``value``, or None: NUL or a lone surrogate."""
    if "\x00" in value:
        return "a NUL character"
    match = _SURROGATE.search(value)
    if match:
        return f"a lone surrogate (U+{ord(match.group()):04X})"
    return None


@deconstructible
class TextValidator:
    """Refuse control characters a field of this kind cannot hold (see the module doc)."""

    def __init__(self, multi_line: bool = False):
        self.multi_line = multi_line

    def __call__(self, value) -> None:
        if not isinstance(value, str):
            return
        problem = unstorable(value)
        if problem is None:
            pattern = _MULTI_LINE_REFUSED if self.multi_line else _SINGLE_LINE_REFUSED
            match = pattern.search(value)
            if match:
                problem = _describe(match.group())
        if problem is not None:
            where = "" if self.multi_line else " (it is a single line)"
            raise ValidationError(
                "This field cannot contain %(problem)s%(where)s.",
                code="invalid_characters",
                params={"problem": problem, "where": where},
            )

    def __eq__(self, other) -> bool:
        return isinstance(other, TextValidator) and other.multi_line == self.multi_line

    def __hash__(self) -> int:
        return hash((TextValidator, self.multi_line))


single_line = TextValidator()
multi_line = TextValidator(multi_line=True)


def storable(value: str) -> str:
    """``value`` without what PostgreSQL refuses: NUL dropped, lone surrogates → U+FFFD."""
    return _SURROGATE.sub("\ufffd", value.replace("\x00", ""))


def printable(value: str) -> str:
    """``value`` as a multi-line text may hold it: other control characters → a space."""
    return _MULTI_LINE_REFUSED.sub(" ", storable(value))


def one_line(value: str) -> str:
    """``value`` on one line: each line break or control character, with the blanks
    around it, becomes one space; other spacing is kept."""
    lines = (line.strip() for line in _BREAKS.split(storable(value)))
    return " ".join(line for line in lines if line)
