"""Audience tip sheets: content from the KB, hotlines, the QR code, one A4 page as HTML and PDF."""
from __future__ import annotations

import io
import re

import pytest
from aiohttp import web
from cryptography.fernet import Fernet

from bot.gateway import auth
from bot.gateway.app import CHECK_LISTENERS, LIVE_KB_KEY
from bot.gateway.errors import json_errors
from bot.gateway.outreach_packs import setup_outreach_packs
from bot.gateway.pages import setup_pages
from bot.kb.live import LiveKb
from bot.outreach import packs

PUBLIC_URL = "https://fanzha.example.cn/"
OFFICIAL = ["110", "96110", "12381", "12321"]


def test_each_audience_gets_only_its_types_most_specific_first(real_kb):
    for slug, who in packs.AUDIENCES.items():
        sheet = packs.build_sheet(real_kb, slug, PUBLIC_URL)
        assert 3 <= len(sheet.items) <= who.max_types
        for item in sheet.items:
            scam = real_kb.scam_types[item.scam_type]
            assert who.kb_group in scam.target_groups and item.scam_type not in ("none", "unknown")
            assert item.short_name == scam.short_name and item.do_this == scam.advice.do_now[0]
            assert 1 <= len(item.signs) <= packs.SIGNS_PER_TYPE and all("——" not in s for s in item.signs)
    elderly = [i.scam_type for i in packs.build_sheet(real_kb, "elderly", PUBLIC_URL).items]
    # aimed at elderly people alone comes first; types only for children never appear
    assert elderly[:2] == ["pension_scam", "health_product"]
    assert "game_trading" not in elderly and "fake_teacher" not in elderly
    parents = [i.scam_type for i in packs.build_sheet(real_kb, "parents", PUBLIC_URL).items]
    assert parents[0] == "fake_teacher" and "pension_scam" not in parents


def test_the_order_rule_on_the_mini_kb(mini_kb):
    groups = {t: s.target_groups for t, s in mini_kb.scam_types.items()}
    for group in ("老年人", "家长", "学生", "all"):
        ranked = packs.relevant_types(mini_kb, group)
        assert all(group in s.target_groups for s in ranked)
        if group != "all":
            sizes = [len(groups[s.id]) for s in ranked]
            assert sizes == sorted(sizes)


def test_sign_is_the_part_before_the_explanation():
    assert packs.plain_sign("点赞、关注、截图就给钱——这是拉人刷单的第一步") == "点赞、关注、截图就给钱"
    assert packs.plain_sign("没有解释的一句") == "没有解释的一句"


def test_widget_url_prefers_public_url_and_checks_it():
    assert packs.widget_url("https://fanzha.example.cn", "http://10.0.0.5:8080") == "https://fanzha.example.cn/"
    assert packs.widget_url(None, "http://127.0.0.1:8080") == "http://127.0.0.1:8080/"
    with pytest.raises(ValueError, match="PUBLIC_URL"):
        packs.widget_url("fanzha.example.cn", "http://x")
    with pytest.raises(packs.UnknownAudience):
        packs.audience("pets")


def decode_qr(png: bytes) -> list:
    """Decode with zxing-cpp (a real QR reader, not segno): the texts of every code in the image."""
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))]


def test_qr_code_encodes_the_widget_url(real_kb):
    sheet = packs.build_sheet(real_kb, "students", PUBLIC_URL)
    assert sheet.qr_data_uri == packs.qr_data_uri(PUBLIC_URL) and sheet.qr_data_uri.startswith("data:image/svg+xml")
    png = io.BytesIO()
    packs.qr_code(PUBLIC_URL).save(png, kind="png", scale=6, border=4)
    assert decode_qr(png.getvalue()) == [PUBLIC_URL]
    # the same matrix segno draws into the SVG: medium error correction, a regular (not micro) code
    assert packs.qr_code(PUBLIC_URL).error == "M" and not packs.qr_code(PUBLIC_URL).is_micro


# -- pages and PDF ------------------------------------------------------------------


def packs_app(kb, public_url: str = "") -> web.Application:
    app = web.Application(middlewares=[json_errors])
    app["max_body"] = 64 * 1024
    app[LIVE_KB_KEY] = LiveKb.of(kb)
    app[CHECK_LISTENERS] = []
    setup_pages(app)
    auth.setup_auth(app, [], auth.AuthConfig(operators_file=__import__("pathlib").Path("/nonexistent/ops.yml"),
                                             session_secret=Fernet.generate_key(), session_max_age=60,
                                             secure_cookies=False))
    setup_outreach_packs(app, public_url=public_url)
    return app


@pytest.fixture
async def client(aiohttp_client, real_kb):
    return await aiohttp_client(packs_app(real_kb))


async def test_index_links_every_part_of_outreach(client):
    resp = await client.get("/outreach")
    assert resp.status == 200
    html = await resp.text()
    for href in ["/outreach/quiz", "/outreach/simulate", "/outreach/stats", "/outreach/packs/elderly",
                 "/outreach/packs/parents.pdf", "/outreach/packs/students", "/outreach/packs/all.pdf"]:
        assert f'href="{href}"' in html
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]


@pytest.mark.parametrize("slug", list(packs.AUDIENCES))
async def test_every_sheet_renders_with_its_types_and_the_hotlines(client, real_kb, slug):
    resp = await client.get(f"/outreach/packs/{slug}")
    assert resp.status == 200
    html = await resp.text()
    sheet = packs.build_sheet(real_kb, slug, "http://x/")
    shown = re.findall(r'class="tip" data-type="([a-z_]+)"', html)
    assert shown == [i.scam_type for i in sheet.items]
    others = {t for t, s in real_kb.scam_types.items() if packs.AUDIENCES[slug].kb_group not in s.target_groups}
    assert not others & set(shown)
    for number in OFFICIAL:
        assert f'<span class="hotline-number">{number}</span>' in html
    assert "国家反诈中心 App" in html
    # the QR code is inline and points at this gateway (no PUBLIC_URL set)
    origin = f"http://{client.server.host}:{client.server.port}/"
    assert f'data-url="{origin}"' in html and 'src="data:image/svg+xml' in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing from elsewhere
    if slug == "elderly":
        assert 'class="sheet sheet-large"' in html


async def test_public_url_is_what_the_qr_code_opens(aiohttp_client, real_kb):
    client = await aiohttp_client(packs_app(real_kb, public_url=PUBLIC_URL))
    html = await (await client.get("/outreach/packs/all")).text()
    assert f'data-url="{PUBLIC_URL}"' in html
    assert packs.qr_data_uri(PUBLIC_URL) in html.replace("&#39;", "'").replace("&amp;", "&")


async def test_unknown_audience_is_a_404_page_and_chinese_names_redirect(client):
    resp = await client.get("/outreach/packs/pets")
    assert resp.status == 404 and "没有“pets”这份宣传单" in await resp.text()
    assert (await client.get("/outreach/packs/pets.pdf")).status == 404
    resp = await client.get("/outreach/packs/老年人", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == "/outreach/packs/elderly"
    resp = await client.get("/outreach/packs/学生.pdf", allow_redirects=False)
    assert resp.headers["Location"] == "/outreach/packs/students.pdf"


@pytest.mark.parametrize("slug", list(packs.AUDIENCES))
async def test_pdf_is_exactly_one_a4_page_with_chinese_text(client, real_kb, slug):
    from pypdf import PdfReader

    resp = await client.get(f"/outreach/packs/{slug}.pdf")
    assert resp.status == 200 and resp.content_type == "application/pdf"
    assert f"fanzha-tips-{slug}.pdf" in resp.headers["Content-Disposition"]
    reader = PdfReader(io.BytesIO(await resp.read()))
    assert len(reader.pages) == 1
    width, height = float(reader.pages[0].mediabox.width), float(reader.pages[0].mediabox.height)
    assert abs(width - 595.28) < 1 and abs(height - 841.89) < 1  # A4 in points
    text = re.sub(r"\s+", "", reader.pages[0].extract_text())
    sheet = packs.build_sheet(real_kb, slug, "http://x/")
    assert f"防骗提示·{sheet.audience.label}" in text
    for item in sheet.items:
        assert item.short_name in text
    for number in OFFICIAL:
        assert number in text
    assert "遇到诈骗" not in text  # the site footer is not printed
