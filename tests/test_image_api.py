"""POST /api/v1/assess/image (issue 15): the verdict on a screenshot's text, bad files refused."""
import asyncio
import io

import pytest
from aiohttp import FormData
from PIL import Image

from bot.gateway.app import GatewayConfig, create_app
from bot.gateway.keys import IMAGE_READER_KEY
from bot.vision import ReaderBusy
from bot.vision.screenshots import Bubble, Style, render
from tests.fake_rasa import fake_rasa_app

SCAM = [Bubble("您好，我是公安局的，您的账户涉嫌洗钱。", False), Bubble("请把钱转到安全账户，电话13812345678", False)]


def form(data: bytes, filename: str = "shot.png", content_type: str = "image/png", **fields) -> FormData:
    body = FormData()
    body.add_field("image", data, filename=filename, content_type=content_type)
    for name, value in fields.items():
        body.add_field(name, value)
    return body


@pytest.fixture
async def client(aiohttp_client, aiohttp_server, mini_kb):
    rasa = await aiohttp_server(fake_rasa_app())
    url = str(rasa.make_url("")).rstrip("/")
    return await aiohttp_client(create_app(GatewayConfig(url, url), kb=mini_kb))


@pytest.fixture(scope="module")
def screenshot() -> bytes:
    return render(SCAM, Style(app="wechat", size=(750, 1334), jpeg_quality=80), seed=1).image


async def test_a_screenshot_gets_the_verdict_and_the_text_read(client, screenshot):
    # Named .txt and declared as text: the bytes decide.
    response = await client.post("/api/v1/assess/image", data=form(screenshot, "notes.txt", "text/plain"))
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["scam_type"] == "police_impersonation" and body["risk_level"] == "high"
    assert body["text"].splitlines()[1].endswith("13812345678")
    assert "安全账户" in body["text"]
    assert "13812345678" not in body["masked_text"] and "138****5678" in body["masked_text"]
    assert {"kind": "phone", "value": "13812345678"} in body["indicators"]


@pytest.mark.parametrize("data, status", [
    (b"GIF89a" + b"\0" * 100, 415),
    ("这不是图片".encode() * 10, 415),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 200, 400),
    (b"", 400),
])
async def test_bad_files_are_refused_by_content(client, data, status):
    response = await client.post("/api/v1/assess/image", data=form(data, "shot.png", "image/png"))
    assert response.status == status
    assert "error" in await response.json()


async def test_a_picture_over_5_mb_gets_413_without_being_read(client):
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (5 * 1024 * 1024)
    response = await client.post("/api/v1/assess/image", data=form(big))
    assert response.status == 413
    assert "too large" in (await response.json())["error"]


async def test_a_form_without_the_image_field_or_json_is_refused(client):
    other = FormData()
    other.add_field("picture", b"\x89PNG", filename="shot.png", content_type="image/png")
    missing = await client.post("/api/v1/assess/image", data=other)
    assert missing.status == 400 and "'image'" in (await missing.json())["error"]
    as_json = await client.post("/api/v1/assess/image", json={"image": "aGVsbG8="})
    assert as_json.status == 415


async def test_a_blank_picture_says_no_text_was_read(client):
    out = io.BytesIO()
    Image.new("RGB", (400, 300), (255, 255, 255)).save(out, format="PNG")
    response = await client.post("/api/v1/assess/image", data=form(out.getvalue()))
    assert response.status == 400
    assert "no text" in (await response.json())["error"]


async def test_a_full_reader_answers_503_with_retry_after(client, screenshot):
    async def busy(data: bytes) -> str:
        raise ReaderBusy("full")

    client.app[IMAGE_READER_KEY] = busy
    response = await client.post("/api/v1/assess/image", data=form(screenshot))
    assert response.status == 503 and response.headers["Retry-After"] == "5"


async def test_the_gateway_answers_other_requests_while_a_picture_is_read(client, screenshot):
    reading = asyncio.ensure_future(client.post("/api/v1/assess/image", data=form(screenshot)))
    await asyncio.sleep(0.05)
    other = await client.get("/api/openapi.json")
    assert other.status == 200
    assert not reading.done()  # the OCR was still running while the other request was served
    assert (await reading).status == 200


async def test_the_widget_channel_is_not_counted_twice(client, screenshot):
    seen = []

    async def listener(verdict, channel):
        seen.append(channel)

    from bot.gateway.keys import CHECK_LISTENERS

    client.app[CHECK_LISTENERS].append(listener)
    widget = await client.post("/api/v1/assess/image", data=form(screenshot, channel="widget"))
    api = await client.post("/api/v1/assess/image", data=form(screenshot))
    assert widget.status == api.status == 200
    assert seen == ["api"]
