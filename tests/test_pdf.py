"""Server-side PDFs: rendering is local-only, public pages are cached, private ones never."""
from __future__ import annotations

import pytest

from bot.gateway import pdf


@pytest.fixture
def counted_renders(monkeypatch):
    calls = []

    def fake_render(html: str) -> bytes:
        calls.append(html)
        return b"%PDF-fake " + html.encode()

    monkeypatch.setattr(pdf, "html_to_pdf", fake_render)
    monkeypatch.setattr(pdf, "_PUBLIC_PDF_CACHE", pdf.LRUCache(pdf.PUBLIC_PDF_CACHE_SIZE))
    return calls


async def test_public_pages_render_once_per_distinct_html(counted_renders):
    first = await pdf.pdf_response("<p>老年人</p>", "a.pdf", public=True)
    again = await pdf.pdf_response("<p>老年人</p>", "a.pdf", public=True)
    other = await pdf.pdf_response("<p>学生</p>", "b.pdf", public=True)
    assert first.body == again.body != other.body
    assert counted_renders == ["<p>老年人</p>", "<p>学生</p>"]
    assert first.headers["Content-Disposition"] == 'attachment; filename="a.pdf"'


async def test_private_pages_are_never_kept(counted_renders):
    for _ in range(2):
        await pdf.pdf_response("<p>13812345678</p>", "case.pdf")
    assert len(counted_renders) == 2 and not pdf._PUBLIC_PDF_CACHE


async def test_the_cache_is_bounded(counted_renders):
    for i in range(pdf.PUBLIC_PDF_CACHE_SIZE + 5):
        await pdf.pdf_response(f"<p>{i}</p>", "x.pdf", public=True)
    assert len(pdf._PUBLIC_PDF_CACHE) == pdf.PUBLIC_PDF_CACHE_SIZE


def test_rendering_never_fetches_from_the_network():
    html = '<link rel="stylesheet" href="https://cdn.example.com/x.css"><p>测试</p><img src="http://example.com/a.png">'
    assert pdf.html_to_pdf(html).startswith(b"%PDF")  # the remote resources are refused, the page still renders
