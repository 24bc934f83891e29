"""The docs page loads every asset from the API itself, none from a CDN."""

from __future__ import annotations

import re

from tests.helpers import Api


def test_the_docs_page_loads_no_asset_from_elsewhere(anonymous: Api) -> None:
    page = anonymous.get("/schema/swagger")
    assert page.status_code == 200, page.text
    html = page.text
    assert "swagger-ui" in html
    sources = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert sources, html
    assert not [s for s in sources if not s.startswith("/")], sources
    assert not re.search(r"https?://|//cdn", html.replace("http://www.w3.org", "")), html
    for source in sources:
        asset = anonymous.get(source)
        assert asset.status_code == 200, (source, asset.status_code)
        assert asset.content, source


def test_the_schema_is_served_and_lists_no_asset_route(anonymous: Api) -> None:
    schema = anonymous.get("/schema/openapi.json")
    assert schema.status_code == 200, schema.text
    assert not [p for p in schema.json()["paths"] if p.startswith("/schema")]
