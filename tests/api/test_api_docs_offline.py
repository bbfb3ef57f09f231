"""`/docs` and `/redoc` work without the internet: Swagger UI and ReDoc come from the gateway itself
(the assets `fastapi-offline` packages), and nothing the pages load points anywhere else."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

# What this module checks does not depend on the database: SQLite only (PostgreSQL: the modules
# whose behaviour does).
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

# what a browser loads: <script src>, <link href>, <img src>, and url(...) in a stylesheet
LOADED = re.compile(r"""(?:<script[^>]*\ssrc|<link[^>]*\shref|<img[^>]*\ssrc)\s*=\s*["']([^"']+)["']""", re.I)
CSS_URL = re.compile(r"""url\(\s*["']?([^"')]+)["']?\s*\)""", re.I)
ANY_URL = re.compile(r"""(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^"'\s)]*""", re.I)


def _references(html: str) -> list[str]:
    return LOADED.findall(html)


@pytest.mark.parametrize(
    ("path", "asset"), [("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone")]
)
def test_the_api_docs_and_every_asset_they_load_come_from_the_gateway(
    client: TestClient, path: str, asset: str
) -> None:
    page = client.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    refs = _references(html)
    assert any(asset in ref for ref in refs), refs  # the viewer itself is among what the page loads
    assert "cdn" not in html.lower()
    assert ANY_URL.findall(html) == [], "the page names an address outside the gateway"
    for ref in refs:
        url = urljoin(f"{client.base_url}{path}", ref)
        assert urlsplit(url).netloc == urlsplit(str(client.base_url)).netloc, ref
        r = client.get(url)
        assert r.status_code == 200 and r.content, ref
        if ref.endswith(".css"):
            for inner in CSS_URL.findall(r.text):
                assert inner.startswith("data:") or "//" not in inner, f"{ref} loads {inner}"


def test_the_openapi_document_the_docs_read_is_served_too(client: TestClient) -> None:
    r = client.get("/openapi.json")
    assert r.status_code == 200 and r.json()["info"]["title"] == "Allmende gateway"
