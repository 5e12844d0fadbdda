"""An audience's message template: the placeholders it may use and what is wrong with
one. Pure (no models), so the ``Audience`` model validates with it and
``notifications.rendering`` fills templates with it."""

import string

PLACEHOLDERS = [
    "id", "title", "severity", "stage", "message", "services", "features", "impact", "url",
    "next_update", "public_status",
]  # fmt: skip


def template_errors(template: str) -> list[str]:
    """What is wrong with an audience's message template (empty list: nothing).
    Only plain ``{name}`` placeholders: no attributes, indexes, formats or conversions."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        return [f"Not a valid template: {exc}. Write literal braces as {{{{ and }}}}."]
    known = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
    errors = []
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in PLACEHOLDERS or spec or conversion:
            errors.append(f"Unknown placeholder {{{field}}}; use only {known}.")
    return errors
