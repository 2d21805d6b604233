"""``/docs`` works air-gapped: every script, style sheet and icon it loads is served by the service itself."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from litestar import Litestar
from litestar.testing import TestClient

sqlite_only = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


class _Urls(HTMLParser):
    """The URLs a page makes the browser fetch (src, href of links)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is not None and (name == "src" or (name == "href" and tag == "link")):
                self.urls.append(value)


def fetched_urls(html: str) -> list[str]:
    parser = _Urls()
    parser.feed(html)
    return parser.urls


@sqlite_only
@pytest.mark.parametrize("page", ["/docs", "/docs/swagger"])
def test_docs_reference_only_same_origin_urls_that_answer(app: Litestar, page: str) -> None:
    with TestClient(app) as anonymous:
        response = anonymous.get(page)
        assert response.status_code == 200
        urls = fetched_urls(response.text)
        assert len(urls) >= 3, urls  # the script, the preset, the style sheet (and the icon)
        for url in urls:
            assert url.startswith("/"), url
            assert not url.startswith("//"), url
            asset = anonymous.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 0, url
        assert "cdn." not in response.text
