"""Indicator extraction (spaCy pipeline), the labelled-span score, and indicator red flags."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.kb import assess as _assess
from bot.kb import load_kb
from bot.kb.blocklist import InMemoryBlocklist
from bot.kb.extraction import entities as _entities
from bot.kb.extraction import hosts as _hosts
from bot.kb.extraction import spacy_pipeline
from bot.kb.extraction.hosts import url_host
from bot.kb.extraction.phones import phone_info
from bot.kb.extraction.red_flags import indicator_advice, indicator_red_flags, merge_red_flags
from bot.kb.results import INDICATOR_KINDS, Indicator, RedFlagHit
from bot.quality.spans import evaluate_file, load_examples
from bot.runtime.context import get_extractor

_KB = load_kb()


# The process's extractor (the spaCy pipeline), as the gateway and the actions get it.
def extract_indicators(text):
    return get_extractor()(text)


def indicators_from_entities(entities, text):
    return _entities.indicators_from_entities(entities, text, get_extractor())


def lookalike(host):
    return _hosts.lookalike(_KB, host)


def assess(kb, text, **kwargs):
    return _assess(kb, text, extractor=get_extractor(), **kwargs)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def kb():
    return load_kb()


def kinds_values(text):
    return [(i.kind, i.value) for i in extract_indicators(text)]


# -- extraction ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("对方用+86 138 1234 5678打来", [("phone", "+86 138 1234 5678")]),
        ("座机010-65231234，客服95588，热线400-820-8820，96110", [
            ("phone", "010-65231234"), ("phone", "95588"), ("phone", "400-820-8820"), ("phone", "96110")]),
        ("来电显示+00 852 6123 4567", [("phone", "+00 852 6123 4567")]),
        ("登录 https://t.cn/A6xYz 或 icbc-vip.com 核实", [("url", "https://t.cn/A6xYz"), ("url", "icbc-vip.com")]),
        ("卡号6222 0201 6613 1860 917", [("bank_card", "6222 0201 6613 1860 917")]),
        ("身份证110105195803123326", [("id_number", "110105195803123326")]),
        ("转了两万块钱，又交了3千元，还有5w", [("amount", "两万块钱"), ("amount", "3千元"), ("amount", "5w")]),
        ("加我QQ号：2839471023，微信 tz_laoshi888", [("qq", "2839471023"), ("wechat_id", "tz_laoshi888")]),
        ("让我下载向日葵，又开了腾讯会议", [("app", "向日葵"), ("app", "腾讯会议")]),
        ("自称北京市公安局的，又说是京东客服", [("organization", "北京市公安局"), ("organization", "京东客服")]),
    ],
)
def test_extracts_each_kind(text, expected):
    assert kinds_values(text) == expected


def test_value_is_the_text_as_written_including_full_width_and_traditional():
    text = "對方電話１３８１２３４５６７８，說是銀行的"
    found = extract_indicators(text)
    assert ("phone", "１３８１２３４５６７８") in [(i.kind, i.value) for i in found]
    phone = next(i for i in found if i.kind == "phone")
    assert text[phone.start:phone.end] == phone.value


def test_nothing_in_codes_dates_counts_and_order_numbers():
    for text in ["验证码382910，请勿告诉他人", "2024年3月15日下午14:30", "群里有2万人", "订单号20231105123456789",
                 "我的手机尾号5678", "他的邮箱是 zhangsan@qq.com"]:
        assert extract_indicators(text) == [], text


def test_empty_text():
    assert extract_indicators("") == []
    assert extract_indicators("   ") == []


def test_indicators_from_entities_uses_rasa_entities_and_falls_back_to_extraction():
    text = "电话13812345678"
    entities = [{"entity": "phone", "value": "13812345678", "start": 2, "end": 13, "extractor": "SpacyEntityExtractor"},
                {"entity": "not_an_indicator", "value": "x", "start": 0, "end": 1}]
    assert indicators_from_entities(entities, text) == [Indicator("phone", "13812345678", 2, 13)]
    # No indicator among the entities (model without the spaCy extractor): extract here.
    assert indicators_from_entities([], text) == [Indicator("phone", "13812345678", 2, 13)]


def test_verdict_engine_still_gets_indicators(kb):
    verdict = assess(kb, "自称公安局的人用17012345678打来，让我下载向日葵，转五万到安全账户")
    kinds = {i["kind"] for i in verdict.to_api()["indicators"]}
    assert {"phone", "app", "amount", "organization"} <= kinds


# -- the labelled set ------------------------------------------------------------------------------


def test_labelled_set_is_big_enough_and_covers_every_kind():
    examples = load_examples()
    spans = [span for _, gold in examples for span in gold]
    assert len(spans) >= 200
    assert {kind for kind, _, _ in spans} == set(INDICATOR_KINDS)


def test_precision_and_recall_at_least_095_for_every_kind():
    report = evaluate_file()
    for kind, scores in report["per_kind"].items():
        assert scores["precision"] >= 0.95 and scores["recall"] >= 0.95, (kind, scores, report["errors"])
    assert report["heldout"]["micro"]["f1"] >= 0.9


def test_evaluation_cli_writes_report(tmp_path):
    from bot.quality import spans as evaluation_spans

    out = tmp_path / "spans.json"
    assert evaluation_spans.main(["--out", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert set(report["per_kind"]) == set(INDICATOR_KINDS)


# -- the saved pipeline --------------------------------------------------------------------------


def test_built_pipeline_loads_with_spacy_and_gives_the_same_entities(tmp_path, kb):
    import spacy

    out = spacy_pipeline.build(tmp_path / "spacy_zh", kb)
    loaded = spacy.load(out)
    fresh = spacy_pipeline.create_pipeline(kb)
    assert loaded.pipe_names == ["indicator_segmenter", "entity_ruler"]
    for text, _ in load_examples()[:60]:
        assert [(e.label_, e.start_char, e.end_char) for e in loaded(text).ents] == [
            (e.label_, e.start_char, e.end_char) for e in fresh(text).ents
        ], text


def test_cli_builds_the_pipeline(tmp_path):
    assert spacy_pipeline.main([str(tmp_path / "p")]) == 0
    assert (tmp_path / "p" / "config.cfg").exists()
    assert spacy_pipeline.main([]) == 2


def test_kb_banks_become_phrase_patterns(kb):
    nlp = spacy_pipeline.create_pipeline(kb)
    phrases = {p["pattern"] for p in nlp.get_pipe("entity_ruler").patterns if isinstance(p["pattern"], str)}
    for bank in kb.banks:
        assert bank.name in phrases


def test_same_result_when_jieba_holds_rasa_user_dictionary(tmp_path):
    """Rasa's JiebaTokenizer loads the KB words into jieba's process-wide dictionary;
    extraction must not depend on it (checked in a separate process)."""
    script = """
import jieba, json
from bot.kb import load_kb
from bot.kb.extraction.spacy_pipeline import create_pipeline
from bot.quality.spans import load_examples
kb = load_kb()
nlp = create_pipeline(kb)
texts = [t for t, _ in load_examples()]
before = [[(e.label_, e.start_char, e.end_char) for e in nlp(t).ents] for t in texts]
for w in kb.vocabulary():
    jieba.add_word(w, 2000)
for w in ["冒充公安局", "公安局民警", "下载向日葵", "转账5000", "加微信wxid"]:
    jieba.add_word(w, 5000)
after = [[(e.label_, e.start_char, e.end_char) for e in nlp(t).ents] for t in texts]
print(json.dumps([t for t, a, b in zip(texts, before, after) if a != b], ensure_ascii=False))
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


# -- red flags from indicators ----------------------------------------------------------------------


def flags(text, kb, blocklist=None, context=""):
    """Indicator red flags; `context` is the text a meeting app is judged by."""
    return {h.id: h for h in indicator_red_flags(extract_indicators(text), kb, blocklist, text=context)}


def test_raw_ip_and_short_links(kb):
    assert "ind_raw_ip_url" in flags("领取补贴 http://47.96.128.33:8080/btlq", kb)
    assert "ind_short_link" in flags("点开 t.cn/A6Kx9pQe 看看", kb)


@pytest.mark.parametrize(
    "host, brand",
    [("taoba0-tk.com", "淘宝"), ("paypa1-secure.com", "PayPal"), ("icbc.com.cn.safe-login.vip", "中国工商银行"),
     ("jd-vip.net", "京东"), ("12306-tp.cn", "铁路12306"), ("aplipay.com", "支付宝")],
)
def test_lookalike_brand_domains(host, brand):
    assert lookalike(host)[0] == brand


def test_punycode_and_fake_government_domains():
    assert "特殊字符" in lookalike("xn--pple-43d.com")[2]
    assert lookalike("ybbt.gov-cn.xyz")[0] == "政府网站"


@pytest.mark.parametrize("host", ["icbc.com.cn", "www.icbc.com.cn", "jd.com", "mybank.icbc.com.cn", "nhsa.gov.cn", "example.com"])
def test_official_and_unrelated_domains_are_not_lookalikes(host):
    assert lookalike(url_host(host)) is None


def test_lookalike_flag_names_the_real_site(kb):
    hit = flags("短信让我登录 www.taoba0-tk.com/refund 退款", kb)["ind_lookalike_domain"]
    assert hit.weight == 3 and "taobao.com" in hit.description and hit.source == "indicator"


def test_screen_sharing_app(kb):
    hit = flags("客服让我下载ToDesk", kb)["ind_screen_sharing_app"]
    assert hit.weight == 3 and hit.quote == "ToDesk"
    assert "ind_screen_sharing_app" not in flags("他让我用Telegram聊", kb)


def test_number_claiming_to_be_bank_or_police_that_is_not_official(kb):
    bank = flags("对方说是工商银行客服，号码是18698765432", kb)["ind_unofficial_number"]
    assert "95588" in bank.description
    police = flags("自称北京市公安局的，电话010-65231234", kb)["ind_unofficial_number"]
    assert "110" in police.description
    assert "ind_unofficial_number" not in flags("工商银行的95588打给我", kb)
    assert "ind_unofficial_number" not in flags("朋友的电话18698765432", kb)


def test_overseas_plus00_and_virtual_ranges(kb):
    assert flags("+63 917 482 6630 打来", kb)["ind_overseas_number"].weight == 1
    assert "ind_spoofed_number" in flags("来电显示+00 852 6123 4567", kb)
    assert flags("17012345678 打来", kb)["ind_virtual_number"].weight == 1
    assert flags("+86 171 2345 6789 打来", kb)["ind_virtual_number"]
    assert not flags("13812345678 打来", kb)


def test_phone_info():
    assert phone_info("+852 6123 4567").country_code == 852
    assert phone_info("0086 139 1234 8765").national == "13912348765"
    assert phone_info("010-65231234").country_code == 86
    assert phone_info("+0012028809901").spoofed_prefix


def test_blocklisted_indicator_raises_risk_and_allowlisted_says_how_to_verify(kb):
    store = InMemoryBlocklist(kb=kb)
    store.add("block", "phone", "+86 186-9876-5432", "多人举报冒充客服")
    store.add("block", "domain", "evil-pay.top")
    hits = flags("客服18698765432让我打开 https://m.evil-pay.top/x", kb, store)
    reported = [h for h in indicator_red_flags(extract_indicators("客服18698765432让我打开 https://m.evil-pay.top/x"), kb, store)
                if h.id == "ind_reported"]
    assert len(reported) == 2 and all(h.weight == 3 for h in reported)
    assert "已被举报" in hits["ind_reported"].description
    advice = indicator_advice(extract_indicators("95588打来说我的工商银行卡异常"), kb, store)
    assert any("95588" in line and "自己拨打" in line for line in advice)
    assert any("96110" in line for line in indicator_advice(extract_indicators("96110给我打电话"), kb))


def test_merge_drops_indicator_flags_the_text_flags_already_say(kb):
    text_hits = [RedFlagHit("screen_sharing", "屏幕共享", 3, "向日葵")]
    ind_hits = indicator_red_flags(extract_indicators("下载向日葵，17012345678"), kb)
    merged = merge_red_flags(text_hits, ind_hits)
    assert [h.id for h in merged].count("screen_sharing") == 1
    assert "ind_screen_sharing_app" not in [h.id for h in merged]
    assert "ind_virtual_number" in [h.id for h in merged]


@pytest.mark.parametrize(
    "text",
    [
        "【钉钉】您有一条待审批的请假申请，请登录钉钉处理。",
        "明天早上记得在钉钉上打卡",
        "老师让我们下载钉钉，孩子明天在钉钉上课",
        "家长群通知：周五晚上七点腾讯会议开家长会，会议号发群里了",
        "公司统一用飞书开周会，领导让大家都装一下飞书",
    ],
)
def test_everyday_meeting_app_mentions_are_not_red_flags(kb, text):
    assert "ind_screen_sharing_app" not in flags(text, kb, context=text)
    assert "screen_sharing" not in {h.id for h in assess(kb, text).red_flags}
    assert assess(kb, text).scam_type == "none"


@pytest.mark.parametrize(
    "text",
    [
        "客服让我下载钉钉，说要开会议指导我退款",
        "对方让我打开腾讯会议，然后点共享屏幕",
        "自称警官的人叫我装一个瞩目，说要远程做笔录",
        "请您下载「小鱼易连」，输入会议号8523，我们指导您操作",
    ],
)
def test_meeting_app_with_screen_sharing_or_an_instruction_is_a_red_flag(kb, text):
    found = {h.id for h in assess(kb, text).red_flags}
    assert {"ind_screen_sharing_app", "screen_sharing"} & found
    assert assess(kb, text).risk_level in ("medium", "high")


def test_meeting_app_needs_the_text_for_context_remote_control_app_does_not(kb):
    assert "ind_screen_sharing_app" not in flags("客服让我下载钉钉", kb)  # no text given: no context
    assert "ind_screen_sharing_app" in flags("客服让我下载钉钉", kb, context="客服让我下载钉钉")
    assert "ind_screen_sharing_app" in flags("他让我装个向日葵", kb)


def test_the_extractor_reads_a_text_once_and_gives_the_same_indicators_again():
    calls = []
    pipeline = get_extractor().nlp

    def counting(text):
        calls.append(text)
        return pipeline(text)

    extractor = spacy_pipeline.SpacyExtractor(pipeline, remembered=2)
    extractor.nlp = counting
    text = "对方让我加V信 wx12345，打 13812345678，登录 https://abc-kefu.top 办理"
    first = extractor(text)
    assert {i.kind for i in first} >= {"phone", "url"}
    first.clear()  # the caller's list is its own
    again = extractor(text)
    assert again == get_extractor()(text) and len(calls) == 1
    extractor("别的话一"), extractor("别的话二")  # the oldest falls out
    extractor(text)
    assert len(calls) == 4
