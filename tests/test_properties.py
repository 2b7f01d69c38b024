"""Issue 13: property tests — the normaliser, indicator extraction and the verdict engine
never raise on arbitrary Unicode (lone surrogates, controls, emoji, RTL, astral planes)."""
from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.kb import default_kb
from bot.kb.extraction.regex_extractor import RegexExtractor
from bot.kb.text import clean, normalize
from bot.kb.verdict import assess

KB = default_kb()
EXTRACTOR = RegexExtractor(KB)
# Any code point, surrogates included, plus the Chinese and digits the rules look for.
ANY_TEXT = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=300)
SCAM_WORDS = st.sampled_from(["安全账户", "转账", "验证码", "公安局", "13800138000", "6217000012345678901",
                              "http://t.cn/abc", "我已经转了五万", "没有转", "\ud800", "\x00", "／restart"])
MIXED = st.lists(st.one_of(ANY_TEXT, SCAM_WORDS), max_size=8).map("".join)
SLOW = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SLOW
@given(ANY_TEXT)
def test_normalize_never_raises_and_leaves_no_surrogate_or_control(text):
    out = normalize(text)
    assert isinstance(out, str)
    out.encode("utf-8")  # no lone surrogate survives
    assert not any(ord(c) < 32 and c not in "\t\n\r" for c in out)


@SLOW
@given(ANY_TEXT)
def test_clean_is_idempotent(text):
    assert clean(clean(text)) == clean(text)


@SLOW
@given(MIXED)
def test_indicator_extraction_never_raises_and_quotes_the_text(text):
    norm = normalize(text)
    for indicator in EXTRACTOR(norm):
        assert 0 <= indicator.start < indicator.end <= len(norm)
        assert indicator.value and indicator.kind in {"phone", "url", "bank_card", "id_number", "amount", "qq",
                                                      "wechat_id", "app", "organization"}


@SLOW
@given(MIXED, st.dictionaries(st.sampled_from(sorted(KB.questions)), st.booleans(), max_size=3))
def test_the_verdict_engine_always_gives_a_valid_verdict(text, answers):
    assume(clean(text).strip())  # the API refuses empty text before the engine
    verdict = assess(KB, text, answers=answers, extractor=EXTRACTOR).to_api()
    assert verdict["risk_level"] in ("high", "medium", "low")
    assert verdict["scam_type"] in set(KB.scam_type_ids) | {"none", "unknown"}
    assert verdict["advice"] and verdict["hotlines"]
