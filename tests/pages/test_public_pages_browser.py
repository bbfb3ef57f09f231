"""The public transparency pages in a real browser: Debian's headless Chromium driven by Playwright
against the gateway served by uvicorn on a loopback port, on the demo's chain.

One journey in one test (xdist would otherwise start the demo twice): without JavaScript, from the
overview to a program, its CSV download and back, then a round; then every public page in every
language checked by axe-core (from npm, injected by the test) against WCAG 2.1 AA at 1280 and 390 px,
with every picture loaded and no sideways scrolling.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.demo import seed_demo
from api.gateway import Gateway
from api.open_data.figures import figures
from api.pages.i18n import LANGUAGES, direction, translate
from tests.api.conftest import copy_deployed, make_settings
from tests.e2e.test_gateway_http import ThreadedServer
from tests.pages.test_pages_browser import AXE, CHROMIUM, TIMEOUT_MS, WIDTHS, _axe_violations, browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

__all__ = ["browser"]  # the Chromium fixture of the client pages' browser test


@pytest.fixture
def served_demo(tmp_path: Path, deployed_data_dir: Path) -> Iterator[tuple[str, Gateway]]:
    data = tmp_path / "data"
    data.mkdir()
    copy_deployed(deployed_data_dir, data)
    gateway = Gateway.open(make_settings(data, f"sqlite:///{data / 'gateway.sqlite3'}"))
    server = ThreadedServer(gateway)
    try:
        assert seed_demo(gateway) is not None
        server.start()
        yield server.url, gateway
    finally:
        server.stop()
        gateway.close()


def test_the_public_pages_work_in_a_real_browser_and_pass_axe(
    served_demo: tuple[str, Gateway], browser: object
) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser) and CHROMIUM.exists()
    url, gateway = served_demo
    figs = figures(gateway.index.events())

    # --- without JavaScript: overview -> program -> its numbers as CSV -> a round ----------------
    context = browser.new_context(
        java_script_enabled=False, locale="de-DE", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{url}/public/")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("heading", level=1)).to_have_text(translate("de", "Where the money went"))
    page.get_by_role("link", name="Lebensmittelhilfe Nord").first.click()
    expect(page).to_have_url(f"{url}/public/programs/1")
    expect(page.get_by_role("heading", level=1)).to_have_text("Lebensmittelhilfe Nord")
    with page.expect_download() as download:
        page.get_by_role("link", name=translate("de", "Download these numbers (CSV)")).first.click()
    path = download.value.path()
    assert path is not None
    rows = list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8"))))
    assert rows and {"from", "to", "amount_eur"} <= set(rows[0])
    page.get_by_role("link", name=translate("de", "Overview")).first.click()
    page.get_by_role("link", name="Bürgerhaushalt Nordhafen").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bürgerhaushalt Nordhafen")
    expect(page.locator("table.data").first).to_contain_text("Spielplatz im Nordpark erneuern")
    context.close()

    # --- every page in every language, wide and narrow ----------------------------------------
    assert AXE.is_file(), "axe-core comes from npm: run `make setup`"
    pages = [
        "/public/",
        *(f"/public/funders/{f}" for f in list(figs.deposits)[:1]),  # one page per template: the
        *(f"/public/programs/{p}" for p in list(figs.programs)[:2]),  # others differ only in figures
        "/public/rounds/1",
        "/public/rounds/2",
        "/public/no-such-page",
    ]
    context = browser.new_context(bypass_csp=True, viewport={"width": WIDTHS[0], "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    found: dict[str, Any] = {}
    for lang in LANGUAGES:
        page.goto(f"{url}/public/language/{lang}?next=/public/")
        for path in pages:
            page.goto(f"{url}{path}")  # loaded once, then laid out at each width
            expect(page.locator("html")).to_have_attribute("lang", lang)
            expect(page.locator("html")).to_have_attribute("dir", direction(lang))
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                violations = _axe_violations(page)
                if violations:
                    found[f"{lang} {path} {width}px"] = violations
                assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
                    lang,
                    path,
                    width,
                )
                broken = page.evaluate(
                    "Promise.all([...document.images].map(i => i.decode().then(() => null, () => i.src)))"
                )
                assert [b for b in broken if b] == [], (lang, path)
    # the checker sees a fault when there is one: an image without a text alternative
    page.evaluate("document.querySelector('main').append(Object.assign(new Image(8, 8), {src: '/x.png'}))")
    assert "image-alt" in {v["id"] for v in _axe_violations(page)}
    context.close()
    assert found == {}, json.dumps(found, ensure_ascii=False, indent=1)
