"""HTML → PDF on the server (case summaries, tip sheets) with WeasyPrint.

The page's print CSS decides the layout, so the printed page and the PDF look the
same.  Chinese needs a CJK font on the machine (Debian: fonts-wqy-zenhei, which
`.ci/run` installs); the stylesheets name it first.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import mimetypes
from pathlib import Path
from typing import Any, Optional, Tuple

from aiohttp import web
from cachetools import LRUCache

log = logging.getLogger(__name__)
SITE_STATIC_DIR = Path(__file__).resolve().parent / "static" / "site"


def _local_file(url: str) -> Optional[Tuple[bytes, str]]:
    """(content, MIME type) of one of our own static files named by a ``file:///site/`` URL."""
    prefix = "file:///site/"
    if url.startswith(prefix):
        path = (SITE_STATIC_DIR / url[len(prefix):]).resolve()
        if SITE_STATIC_DIR in path.parents and path.is_file():
            # WeasyPrint needs the MIME type to use a stylesheet or an image.
            return path.read_bytes(), mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return None


def _url_fetcher() -> Any:
    """Only our own static files and data: URLs — a PDF render must never reach the network."""
    from weasyprint import urls

    class LocalFetcher(urls.URLFetcher):  # WeasyPrint ≥ 68's fetcher API
        def fetch(self, url: str, headers: Any = None) -> Any:
            found = _local_file(url)
            if found:
                return urls.URLFetcherResponse(url, body=found[0], headers={"Content-Type": found[1]})
            if url.startswith("data:"):
                return super().fetch(url, headers)
            raise ValueError(f"PDF rendering refuses to fetch {url!r}")

    return LocalFetcher()


def html_to_pdf(html: str, base_dir: Optional[Path] = None) -> bytes:
    """Render a complete HTML document; relative URLs (``/site/...``) resolve against the static folder."""
    # imported lazily: it loads pango, which only PDF requests need. It also turns on Pillow's
    # process-wide LOAD_TRUNCATED_IMAGES; bot.vision.images.check_image turns it off again.
    from weasyprint import HTML

    return HTML(string=html, base_url="file:///", url_fetcher=_url_fetcher()).write_pdf()


# Public pages (tip sheets) render the same HTML again and again, and a CJK page takes
# 1–4 s (font subsetting), so their PDFs are kept, keyed by the HTML. Never used for cases:
# their PDFs hold personal data that must not stay in memory.
PUBLIC_PDF_CACHE_SIZE = 16
_PUBLIC_PDF_CACHE: LRUCache = LRUCache(PUBLIC_PDF_CACHE_SIZE)


async def _render(html: str) -> bytes:
    return await asyncio.get_running_loop().run_in_executor(None, html_to_pdf, html)


async def _render_public(html: str) -> bytes:
    key = hashlib.sha256(html.encode("utf-8")).hexdigest()
    pdf = _PUBLIC_PDF_CACHE.get(key)
    if pdf is None:
        pdf = _PUBLIC_PDF_CACHE[key] = await _render(html)
    return pdf


async def pdf_response(html: str, filename: str, public: bool = False) -> web.Response:
    """Render off the event loop and send it as a download; `public` pages are cached."""
    pdf = await (_render_public(html) if public else _render(html))
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )
