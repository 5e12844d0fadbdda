"""The status banner meets WCAG AA (4.5:1) in light and dark mode, for every state."""

import re

import pytest
from django.conf import settings

CSS = (settings.BASE_DIR / "static" / "statuspage" / "status.css").read_text()
STATES = ["operational", "degraded_performance", "partial_outage", "major_outage",
          "under_maintenance"]  # fmt: skip


def _luminance(hex_colour: str) -> float:
    if len(hex_colour) == 4:  # #fff
        hex_colour = "#" + "".join(c * 2 for c in hex_colour[1:])
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _schemes() -> dict[str, tuple[dict, str]]:
    before, after = CSS.split("@media (prefers-color-scheme:dark)", 1)
    dark = after[: after.index("}}") + 2]
    light = before + after[len(dark) :]

    def variables(text: str) -> dict:
        return dict(re.findall(r"--([a-z_]+):(#[0-9a-fA-F]{6})", text))

    def banner_text(text: str, default: str) -> str:
        found = re.search(r"\.banner\{[^}]*?color:(#[0-9a-fA-F]{6}|#[0-9a-fA-F]{3})\b", text)
        return found.group(1) if found else default

    light_text = banner_text(light, "#000000")
    return {
        "light": (variables(light), light_text),
        "dark": ({**variables(light), **variables(dark)}, banner_text(dark, light_text)),
    }


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("state", STATES)
def test_the_banner_text_is_readable(scheme, state):
    colours, text = _schemes()[scheme]
    assert contrast(text, colours[state]) >= 4.5, f"{scheme} {state}: {text} on {colours[state]}"
