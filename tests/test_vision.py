"""bot.vision: files checked by content, the chat layout, screenshots read offline (issue 15)."""
import io

import pytest
from PIL import Image

from bot.quality.screenshots import char_error_rate, edit_distance
from bot.vision import ImageReader, ImageRejected, ReaderBusy, check_image
from bot.vision.engines import RapidOcrEngine, TextLine
from bot.vision.images import MAX_IMAGE_BYTES, sniff_format
from bot.vision.layout import keep_boxes, messages, read_text
from bot.vision.reader import read_picture
from bot.vision.screenshots import Bubble, Style, load_texts, parse_conversation, render, sample


def encoded(fmt: str, size=(120, 80), **options) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (250, 250, 250)).save(out, format=fmt, **options)
    return out.getvalue()


# -- files, by content ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt, name", [("PNG", "png"), ("JPEG", "jpeg"), ("WEBP", "webp")])
def test_png_jpeg_and_webp_are_known_by_their_bytes(fmt, name):
    data = encoded(fmt)
    assert sniff_format(data) == name
    assert check_image(data).format == name


@pytest.mark.parametrize("data", [encoded("GIF"), encoded("BMP"), b"%PDF-1.7 not a picture", "你好".encode() * 20])
def test_other_files_are_refused_with_415(data):
    with pytest.raises(ImageRejected) as err:
        check_image(data)
    assert err.value.status == 415


def test_a_truncated_png_is_refused_with_400():
    data = encoded("PNG", size=(400, 400))
    with pytest.raises(ImageRejected) as err:
        check_image(data[: len(data) // 2])
    assert err.value.status == 400


def test_a_png_header_on_jpeg_bytes_is_refused_with_400():
    forged = b"\x89PNG\r\n\x1a\n" + encoded("JPEG")[8:]
    with pytest.raises(ImageRejected) as err:
        check_image(forged)
    assert err.value.status == 400


def test_empty_and_oversized_files_are_refused():
    with pytest.raises(ImageRejected) as empty:
        check_image(b"")
    assert empty.value.status == 400
    with pytest.raises(ImageRejected) as large:
        check_image(b"\x89PNG\r\n\x1a\n" + b"\0" * MAX_IMAGE_BYTES)
    assert large.value.status == 413


def test_a_decompression_bomb_is_refused_before_decoding():
    out = io.BytesIO()
    Image.new("1", (10000, 6000)).save(out, format="PNG")  # 60 MP in a few kB
    with pytest.raises(ImageRejected) as err:
        check_image(out.getvalue())
    assert err.value.status == 413


# -- layout (pure) --------------------------------------------------------------------------


def line(text, x0, y0, x1, h=40):
    return TextLine(text, x0, y0, x1, y0 + h)


def test_timestamps_and_centred_titles_are_chrome_and_bubbles_keep_their_order():
    width = 1080
    lines = [
        line("客服中心", 460, 150, 620),  # title, centred
        line("昨天 20:15", 470, 300, 610, h=30),  # timestamp
        line("您好，您的快递丢失了，我们给", 180, 400, 800),  # left bubble, line 1
        line("您三倍理赔。", 180, 450, 420),  # left bubble, line 2
        line("真的吗", 700, 600, 860),  # right bubble
        line("请加我QQ办理", 180, 760, 500),  # left again
    ]
    found = messages(lines, width)
    assert [m.text for m in found] == ["您好，您的快递丢失了，我们给您三倍理赔。", "真的吗", "请加我QQ办理"]
    assert [m.mine for m in found] == [False, True, False]


def test_two_bubbles_on_the_same_side_stay_two_messages():
    lines = [line("第一条消息", 180, 400, 600), line("第二条消息", 180, 500, 600)]
    assert read_text(lines, 1080) == "第一条消息\n第二条消息"


def test_without_any_bubble_every_line_counts():
    image = Image.new("RGB", (800, 600), (255, 255, 255))  # a letter, a notes app: no bubbles
    boxes = [(50.0, 100.0, 700.0, 140.0), (50.0, 160.0, 500.0, 200.0)]
    assert keep_boxes(image, boxes) == boxes


def test_character_error_rate_folds_widths_and_spaces():
    assert edit_distance("kitten", "sitting") == 3
    assert char_error_rate("请点击链接：http://a.cn", "请点击链接: http://a.cn") == 0
    assert char_error_rate("安全账户", "安全帐户") == 0.25


# -- generated screenshots ------------------------------------------------------------------


def test_the_corpus_has_at_least_200_texts_and_both_sides():
    texts = load_texts()
    assert len(texts) >= 200
    assert any(b.mine for t in texts for b in parse_conversation(t))


def test_the_generator_covers_apps_modes_sizes_and_jpeg():
    shots = [shot for _, shot in sample(load_texts(), 16)]
    styles = {s.style for s in shots}
    assert {s.app for s in styles} == {"wechat", "sms"} and {s.dark for s in styles} == {False, True}
    assert len({s.size for s in styles}) >= 4
    assert any(s.image.startswith(b"\xff\xd8\xff") for s in shots) and any(s.image.startswith(b"\x89PNG") for s in shots)


@pytest.fixture(scope="module")
def engine():
    return RapidOcrEngine()


def test_nicknames_and_the_clock_are_never_read_and_bubble_text_is(engine):
    shot = render([Bubble("对方发来的第一条消息", False), Bubble("我的回复", True)],
                  Style(app="wechat", group=True), seed=3)
    image = check_image(shot.image).image
    every_line = engine.recognize(image, engine.detect(image))
    kept = set(keep_boxes(image, [(ln.x0, ln.y0, ln.x1, ln.y1) for ln in every_line]))
    texts_kept = {ln.text for ln in every_line if (ln.x0, ln.y0, ln.x1, ln.y1) in kept}
    texts_dropped = {ln.text for ln in every_line} - texts_kept
    assert texts_kept == {"对方发来的第一条消息", "我的回复"}
    assert any(t in {"李明", "客服小张", "王阿姨", "Tony", "阳光"} for t in texts_dropped)  # the nickname
    assert any(":" in t for t in texts_dropped)  # the status bar's clock


@pytest.mark.parametrize("index", [1, 2, 7])  # SMS light; WeChat dark group JPEG; SMS dark group JPEG
def test_a_generated_screenshot_is_read_without_its_chrome(engine, index):
    source, shot = list(sample(load_texts(), index + 1))[index]
    text = read_picture(engine, check_image(shot.image).image)
    assert char_error_rate(shot.expected, text) <= 0.05, (shot.expected, text)
    assert "5G" not in text and "%" not in text  # the status bar
    assert not any(nick in text for nick in ("李明", "客服小张", "王阿姨", "Tony", "阳光"))  # group nicknames
    assert len(text.splitlines()) == len(shot.expected.splitlines())  # one line per bubble, in order


async def test_the_reader_refuses_when_too_many_pictures_wait():
    class SlowEngine:
        name = "slow"

        def lines(self, image):
            import time

            time.sleep(0.3)
            return []

    import asyncio

    reader = ImageReader(SlowEngine(), max_waiting=1)
    data = encoded("PNG")
    try:
        results = await asyncio.gather(*(reader(data) for _ in range(4)), return_exceptions=True)
    finally:
        reader.close()
    assert sum(isinstance(r, ReaderBusy) for r in results) == 2
    assert sum(r == "" for r in results) == 2


def test_a_truncated_png_is_refused_even_after_a_pdf_library_allowed_truncated_images(monkeypatch):
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # what importing WeasyPrint does
    data = encoded("PNG", size=(400, 400))
    with pytest.raises(ImageRejected) as err:
        check_image(data[: len(data) // 2])
    assert err.value.status == 400
