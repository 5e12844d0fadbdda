"""static/js/live.js keeps the reader's open disclosures open across a live swap: the
one they opened, not every disclosure that shares its summary. Driven in Chromium on a
page served by Playwright's router (no server: the state and fragment answers are the
test's), so the swap happens exactly when the test says."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

LIVE_JS = (Path(__file__).resolve().parents[2] / "static" / "js" / "live.js").read_text()
ORIGIN = "http://keel.test"


def fragment(version: int) -> str:
    edits = "".join(
        f"<li><details><summary>Edit</summary><p>Note {n}, version {version}</p></details></li>"
        for n in range(3)
    )
    return (
        f'<section id="timeline" data-live-version="{version}"><ul>{edits}</ul>'
        '<details id="close-disclosure"><summary>Close the incident</summary></details>'
        f'<p id="said">Version {version}</p></section>'
    )


def document(version: int) -> str:
    return (
        "<!doctype html><html><body>"
        f'<div data-live data-live-state="{ORIGIN}/state" data-live-target="#timeline" '
        'data-live-poll="1"></div>'
        f"{fragment(version)}<script>{LIVE_JS}</script></body></html>"
    )


def test_only_the_disclosure_the_reader_opened_stays_open(browser):
    served = {"version": 1}
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def answer(route):
        url = route.request.url
        if url.endswith("/state"):
            route.fulfill(json={"version": str(served["version"])})
        else:
            route.fulfill(content_type="text/html", body=document(served["version"]))

    page.route(f"{ORIGIN}/**", answer)
    page.goto(f"{ORIGIN}/incidents/1/")
    page.locator("li details").nth(1).locator("summary").click()
    page.locator("#close-disclosure summary").click()

    served["version"] = 2
    page.wait_for_selector("#said:text('Version 2')", timeout=10_000)

    opened = page.eval_on_selector_all("li details", "all => all.map(d => d.open)")
    assert opened == [False, True, False]
    assert page.locator("#close-disclosure").evaluate("d => d.open")
    assert page.locator("li details").nth(1).inner_text().endswith("Note 1, version 2")
    assert errors == []
    page.close()
