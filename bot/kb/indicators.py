"""Indicators (phone numbers, links, cards, amounts, accounts, apps, organisations) and
the red flags they raise.

Extraction runs the project's spaCy pipeline (bot.nlu.spacy_pipeline): the one built by
`make build` in build/spacy_zh (or `$FANZHA_SPACY_PIPELINE`), loaded once, lazily; when
it is missing or older than its sources, an identical pipeline is created in memory
from the knowledge base.  Inside Rasa the same pipeline runs as SpacyNLP +
SpacyEntityExtractor, and `indicators_from_entities` turns those entities back into
indicators.

`indicator_red_flags` looks at the indicators themselves: raw-IP links, short links,
look-alike brand domains, remote-control apps (and meeting apps, only when the text shows
screen sharing or someone telling the resident to install one), a "bank"/"police" number that is not the
official one, overseas / +00 / virtual-carrier numbers, and anything on the blocklist.
`indicator_advice` says how to verify through the official channel when an indicator is
on the allowlist (95588, 96110 …).
"""
from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import urlsplit

import phonenumbers

from bot.kb.results import INDICATOR_KINDS, Indicator, RedFlagHit
from bot.kb.text import normalize

if TYPE_CHECKING:  # pragma: no cover
    from bot.kb.blocklist import Blocklist
    from bot.kb.loader import KnowledgeBase

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PIPELINE_ENV = "FANZHA_SPACY_PIPELINE"
DEFAULT_PIPELINE_DIR = PROJECT_ROOT / "build" / "spacy_zh"

# ------------------------------------------------------------------------------------------
# Extraction
# ------------------------------------------------------------------------------------------

_pipeline = None
_pipeline_lock = threading.Lock()


def pipeline_path() -> Path:
    return Path(os.environ.get(PIPELINE_ENV) or DEFAULT_PIPELINE_DIR)


def _sources_mtime() -> float:
    from bot.kb.loader import DEFAULT_KB_DIR
    from bot.nlu import spacy_pipeline

    files = [Path(spacy_pipeline.__file__), *Path(DEFAULT_KB_DIR).rglob("*.yml")]
    return max((f.stat().st_mtime for f in files if f.exists()), default=0.0)


def _load_pipeline():
    from bot.nlu import spacy_pipeline  # registers the segmenter factory

    path = pipeline_path()
    meta = path / "meta.json"
    if meta.exists():
        if meta.stat().st_mtime >= _sources_mtime() or os.environ.get(PIPELINE_ENV):
            logger.info("indicator pipeline: loading %s", path)
            return spacy_pipeline.load(path)
        logger.warning("indicator pipeline: %s is older than its sources; using a fresh one (run `make build`)", path)
    else:
        logger.info("indicator pipeline: %s not built; creating it in memory", path)
    try:
        from bot.kb import default_kb

        kb = default_kb()
    except Exception as err:  # the KB is broken: extract with the built-in lexicons
        logger.warning("indicator pipeline: knowledge base not loaded (%s); built-in lexicons only", err)
        kb = None
    return spacy_pipeline.create_pipeline(kb)


def get_pipeline():
    """The spaCy pipeline, loaded once per process."""
    global _pipeline
    if _pipeline is None:
        with _pipeline_lock:
            if _pipeline is None:
                _pipeline = _load_pipeline()
    return _pipeline


def reset_pipeline() -> None:
    """Forget the loaded pipeline (tests, or after `make build`)."""
    global _pipeline
    with _pipeline_lock:
        _pipeline = None


def _written(text: str, norm: str, start: int, end: int) -> str:
    """The indicator as the resident wrote it (normalising usually keeps offsets)."""
    return text[start:end] if len(text) == len(norm) else norm[start:end]


def extract_indicators(text: str) -> List[Indicator]:
    """Every indicator in `text`, in order; `value` is the text as written."""
    if not text or not text.strip():
        return []
    norm = normalize(text)
    doc = get_pipeline()(norm)
    return [
        Indicator(ent.label_, _written(text, norm, ent.start_char, ent.end_char), ent.start_char, ent.end_char)
        for ent in doc.ents
        if ent.label_ in INDICATOR_KINDS
    ]


def indicators_from_entities(entities: Iterable[Mapping], text: str) -> List[Indicator]:
    """Indicators from Rasa's parse entities (SpacyEntityExtractor, same pipeline).

    When the entities hold no indicator at all (a model trained without the spaCy
    extractor, or entities from another source) the text is extracted here instead, so
    the verdict never silently loses its evidence.
    """
    result = []
    for entity in entities or []:
        if entity.get("entity") in INDICATOR_KINDS:
            start, end = int(entity.get("start", 0)), int(entity.get("end", 0))
            value = text[start:end] if 0 <= start < end <= len(text) else str(entity.get("value", ""))
            result.append(Indicator(entity["entity"], value, start, end))
    if not result:
        return extract_indicators(text)
    unique = {(i.kind, i.start, i.end): i for i in result}
    return sorted(unique.values(), key=lambda i: (i.start, i.end))


# ------------------------------------------------------------------------------------------
# Phone numbers, hosts
# ------------------------------------------------------------------------------------------

# Virtual-carrier (MVNO) ranges often used by fraudsters: a signal, not proof.
VIRTUAL_PREFIXES = ("170", "171", "162", "165", "167")
POLICE_WORDS = re.compile(r"公安|警|检察|法院|公检法|司法|派出所|刑侦|经侦|网安|反诈中心|国安|国家安全")
BANK_WORDS = re.compile(r"银行|信用社|信用卡中心|工行|农行|中行|建行|交行|招行|邮储")
POLICE_OFFICIAL = "110（报警）或 96110（反诈专线）"


@dataclass(frozen=True)
class PhoneInfo:
    digits: str  # the digits as written, "+" kept
    country_code: Optional[int]
    national: str  # national significant number ("" if not parsed)
    spoofed_prefix: bool  # +00 … : not a real country code

    @property
    def overseas(self) -> bool:
        return self.country_code not in (None, 86)

    @property
    def virtual(self) -> bool:
        return self.country_code == 86 and len(self.national) == 11 and self.national.startswith(VIRTUAL_PREFIXES)


def phone_info(value: str) -> PhoneInfo:
    digits = re.sub(r"[^\d+]", "", value)
    if digits.startswith("+00") or (digits.startswith("000")):
        return PhoneInfo(digits, None, digits.lstrip("+0"), True)
    candidate = "+" + digits[2:] if digits.startswith("00") else digits
    try:
        number = phonenumbers.parse(candidate, "CN")
    except phonenumbers.NumberParseException:
        return PhoneInfo(digits, None, "", False)
    return PhoneInfo(digits, number.country_code, str(number.national_number), False)


def canonical_phone(value: str) -> str:
    """One spelling per number: E.164 (+8613812345678, +86110, +85221234567)."""
    info = phone_info(value)
    if info.country_code is None:
        return re.sub(r"[^\d+]", "", value)
    return f"+{info.country_code}{info.national}"


def url_host(value: str) -> str:
    """The host of a link as written (lower case, without www. and port)."""
    raw = value.strip()
    if not re.match(r"(?i)^[a-z][a-z0-9+.\-]*://", raw):
        raw = "http://" + raw
    try:
        host = urlsplit(raw).hostname or ""
    except ValueError:
        host = ""
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


_IP_HOST = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
SHORTENERS = {
    "t.cn", "url.cn", "w.url.cn", "dwz.cn", "suo.im", "suo.nz", "bit.ly", "tinyurl.com", "goo.gl",
    "t.co", "is.gd", "ow.ly", "rebrand.ly", "cutt.ly", "s.id", "v.gd", "985.so", "c1n.cn",
    "0x3.me", "u.nu", "dwz.date", "sohu.gg", "mrw.so", "m6z.cn", "kurl.ru", "tb.cn", "s.click.taobao.com",
}
# Brand → (name residents know, official registrable domains).
BRANDS: Dict[str, Tuple[str, Tuple[str, ...]]] = {
    "icbc": ("中国工商银行", ("icbc.com.cn", "icbc.com")),
    "ccb": ("中国建设银行", ("ccb.com", "ccb.cn")),
    "boc": ("中国银行", ("boc.cn", "bankofchina.com")),
    "bankofchina": ("中国银行", ("boc.cn", "bankofchina.com")),
    "abchina": ("中国农业银行", ("abchina.com", "abchina.com.cn")),
    "bankcomm": ("交通银行", ("bankcomm.com", "bankcomm.cn")),
    "cmbchina": ("招商银行", ("cmbchina.com",)),
    "psbc": ("中国邮政储蓄银行", ("psbc.com",)),
    "cmbc": ("中国民生银行", ("cmbc.com.cn",)),
    "taobao": ("淘宝", ("taobao.com", "tb.cn")),
    "tmall": ("天猫", ("tmall.com",)),
    "jd": ("京东", ("jd.com", "jd.hk")),
    "alipay": ("支付宝", ("alipay.com", "alipay.cn")),
    "pinduoduo": ("拼多多", ("pinduoduo.com", "yangkeduo.com")),
    "apple": ("苹果", ("apple.com", "apple.com.cn", "icloud.com")),
    "icloud": ("苹果", ("icloud.com", "apple.com")),
    "paypal": ("PayPal", ("paypal.com",)),
    "12306": ("铁路12306", ("12306.cn",)),
    "10086": ("中国移动", ("10086.cn",)),
    "chinatax": ("国家税务总局", ("chinatax.gov.cn",)),
    "sf-express": ("顺丰速运", ("sf-express.com",)),
    "weixin": ("微信", ("weixin.qq.com", "wechat.com", "qq.com")),
    "wechat": ("微信", ("wechat.com", "weixin.qq.com", "qq.com")),
    "douyin": ("抖音", ("douyin.com",)),
    "unionpay": ("中国银联", ("unionpay.com", "95516.com")),
    "95516": ("中国银联", ("95516.com", "unionpay.com")),
    "spp": ("最高人民检察院", ("spp.gov.cn",)),
    "court": ("人民法院", ("court.gov.cn",)),
    "mps": ("公安部", ("mps.gov.cn",)),
    "nhsa": ("国家医疗保障局", ("nhsa.gov.cn",)),
    "etc": ("ETC", ("gov.cn",)),
}
GOVERNMENT_SUFFIX = "gov.cn"
_SHORT_BRANDS = {k for k in BRANDS if len(k) <= 3}  # matched only as a whole word of the host
_DIGIT_AS_LETTER = str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g"})
_DIGIT_AS_I = str.maketrans({"1": "i"})


def _is_official(host: str, domains: Iterable[str]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def official_domain_of(host: str) -> Optional[Tuple[str, str]]:
    """(brand name, official domain) when `host` is a brand's official site."""
    for name, domains in BRANDS.values():
        for domain in domains:
            if _is_official(host, [domain]):
                return name, domain
    if host.endswith("." + GOVERNMENT_SUFFIX):
        return "政府网站", host
    return None


def _one_edit_apart(a: str, b: str) -> bool:
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diffs) == 1 or (
            len(diffs) == 2 and diffs[1] == diffs[0] + 1 and a[diffs[0]] == b[diffs[1]] and a[diffs[1]] == b[diffs[0]]
        )
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def lookalike(host: str) -> Optional[Tuple[str, str, str]]:
    """(brand name, official domain, why) when `host` imitates a well-known brand."""
    if not host or _IP_HOST.match(host) or official_domain_of(host):
        return None
    if any(label.startswith("xn--") for label in host.split(".")):
        try:
            shown = host.encode("ascii").decode("idna")
        except UnicodeError:
            shown = host
        return "知名网站", "", f"域名用特殊字符伪装成别的网址（实际是 {shown}）"
    words = [w for w in re.split(r"[.\-_]", host) if w]
    for key, (name, domains) in BRANDS.items():
        if key == "etc":
            continue
        if key in _SHORT_BRANDS or key.isdigit():
            embedded = key in words or (key.isdigit() and any(w.startswith(key) for w in words))
        else:
            embedded = key in host
        if embedded:
            return name, domains[0], f"网址里有「{key}」，但不是{name}的官网"
        if key.isdigit() or key in _SHORT_BRANDS:
            continue
        for word in words:
            if any(ch.isdigit() for ch in word) and (
                key in word.translate(_DIGIT_AS_LETTER) or key in word.translate(_DIGIT_AS_I)
            ):
                return name, domains[0], f"网址用数字冒充字母，假装是{name}（{word}）"
            if len(key) >= 5 and _one_edit_apart(word, key):
                return name, domains[0], f"网址和{name}的官网只差一个字母（{word}）"
    if "gov" in words or any(w.startswith("gov") for w in words):
        return "政府网站", "", "网址假装是政府网站，但政府网站都以 .gov.cn 结尾"
    return None


# ------------------------------------------------------------------------------------------
# Red flags from indicators
# ------------------------------------------------------------------------------------------

# Remote-control apps exist to let someone else operate the phone: naming one is enough.
REMOTE_CONTROL_APPS = {"向日葵", "todesk", "teamviewer", "anydesk", "qq远程协助"}
# Meeting apps are everyday tools (钉钉打卡、家长群、腾讯会议开周会): a red flag only when the
# text also shows screen sharing / remote control, or someone other than school or work
# telling the resident to install the app or join a meeting in it.
MEETING_APPS = {
    "腾讯会议", "钉钉", "飞书", "飞书会议", "zoom", "瞩目", "小鱼易连", "华为云会议", "welink",
    "全时云会议", "云视讯", "skype", "网易会议",
}
SCREEN_SHARING_APPS = REMOTE_CONTROL_APPS | MEETING_APPS
_CLAUSE = r"[^,，。!！?？;；\n]"
_SHARING_WORDS = re.compile(
    r"屏幕共享|共享(你的|您的|一下|下)?屏幕|开(启|一下)?共享|投屏|远程|远控|操控|控制(你的|您的|我的)?手机"
)
# Someone telling the resident to install the app or join a meeting in it, in the clause
# before the app's name (same wording as the KB's `screen_sharing` red flag) …
_INSTRUCTION_BEFORE_APP = re.compile(
    r"(让|叫|要|要求|请|指导|教|带)" + _CLAUSE + r"{0,12}(下载|下个|下一个|安装|装|加入|进入|进)" + _CLAUSE + r"{0,4}$"
)
# … unless school or work asks for it (老师让下载钉钉上网课、公司用飞书打卡).
_EVERYDAY_SENDERS = re.compile(r"老师|班主任|学校|幼儿园|公司|单位|领导|同事|hr|人事|辅导员|班级群|家长群", re.I)
_SENTENCE_BREAK = re.compile(r"[。!！?？\n]")


def _sentence_around(text: str, start: int, end: int) -> str:
    left = max((m.end() for m in _SENTENCE_BREAK.finditer(text, 0, start)), default=0)
    right = _SENTENCE_BREAK.search(text, end)
    return text[left:right.start() if right else len(text)]


def meeting_app_misused(text: str, ind: Indicator) -> bool:
    """The sentence naming a meeting app shows screen sharing, or someone (not school or
    work) telling the resident to install it or join a meeting in it."""
    if not text or not (0 <= ind.start < ind.end <= len(text)):
        return False
    sentence = _sentence_around(text, ind.start, ind.end)
    if _SHARING_WORDS.search(sentence):
        return True
    before = text[max(0, ind.start - 30):ind.start]
    return bool(_INSTRUCTION_BEFORE_APP.search(before)) and not _EVERYDAY_SENDERS.search(sentence)


def _screen_sharing_risk(ind: Indicator, text: str) -> bool:
    app = ind.value.lower()
    return app in REMOTE_CONTROL_APPS or (app in MEETING_APPS and meeting_app_misused(text, ind))


# Indicator flags that say the same as a text red flag of the KB (keep only one of each pair).
OVERLAPS_WITH = {"ind_screen_sharing_app": "screen_sharing"}
_NOUN = {"phone": "号码", "url": "链接", "bank_card": "账号", "qq": "QQ号", "wechat_id": "微信号"}


def _hit(flag_id: str, description: str, weight: int, quote: str) -> RedFlagHit:
    return RedFlagHit(flag_id, description, weight, quote, None, "indicator")


def _claimed(indicators: Sequence[Indicator], kb: Optional["KnowledgeBase"]) -> Tuple[List[str], List[Tuple[str, str]]]:
    """(police-like organisations named, [(bank name, official number)] named)."""
    police, banks = [], []
    for ind in indicators:
        if ind.kind != "organization":
            continue
        if POLICE_WORDS.search(ind.value):
            police.append(ind.value)
        elif BANK_WORDS.search(ind.value):
            known = kb.banks_named_in(ind.value) if kb is not None else []
            if known:
                banks.extend((b.name, b.number) for b in known)
            else:
                banks.append((ind.value, ""))
    return police, banks


def indicator_red_flags(
    indicators: Sequence[Indicator],
    kb: Optional["KnowledgeBase"],
    blocklist: Optional["Blocklist"] = None,
    text: str = "",
) -> List[RedFlagHit]:
    """Red flags raised by the indicators themselves (source="indicator"), strongest first.

    `blocklist` None: only the built-in allowlist (official numbers of the KB) is used.
    `text` (normalised, the indicators' offsets point into it) gives the context a meeting
    app needs before it counts; without it only remote-control apps raise a flag.
    """
    from bot.kb.blocklist import builtin_allowlist

    allowed_builtin = builtin_allowlist(kb)
    hits: List[RedFlagHit] = []
    police, banks = _claimed(indicators, kb)

    def listed(ind: Indicator):
        if blocklist is not None:
            return blocklist.check(ind)
        return allowed_builtin.check(ind)

    for ind in indicators:
        entry = listed(ind)
        if entry is not None and entry.list == "allow":
            continue
        if entry is not None and entry.list == "block":
            note = f"（{entry.note}）" if entry.note else ""
            hits.append(_hit("ind_reported", f"此{_NOUN.get(ind.kind, '信息')}已被举报：{ind.value}{note}", 3, ind.value))
        if ind.kind == "url":
            host = url_host(ind.value)
            if _IP_HOST.match(host):
                hits.append(_hit("ind_raw_ip_url", "链接是一串数字地址（IP），正规单位的网站不会这样发", 2, ind.value))
            elif host in SHORTENERS:
                hits.append(_hit("ind_short_link", "这是短链接，看不出真实网址：不要点开", 1, ind.value))
            else:
                fake = lookalike(host)
                if fake:
                    brand, official, why = fake
                    real = f"，真官网是 {official}" if official else ""
                    hits.append(_hit("ind_lookalike_domain", f"假冒网址：{why}{real}", 3, ind.value))
        elif ind.kind == "app" and _screen_sharing_risk(ind, text):
            hits.append(_hit(
                "ind_screen_sharing_app",
                f"让您装「{ind.value}」——这类软件能让对方看到甚至操控您的手机，看到验证码和银行密码",
                3, ind.value,
            ))
        elif ind.kind == "phone":
            info = phone_info(ind.value)
            if info.spoofed_prefix:
                hits.append(_hit("ind_spoofed_number", "号码以 +00 开头：这不是正常的来电号码，多是改号软件或网络电话", 2, ind.value))
            elif info.overseas:
                hits.append(_hit(
                    "ind_overseas_number",
                    f"境外号码（+{info.country_code}）：国内的公检法、银行、客服不会用境外号码联系您（提示，不是定论）",
                    1, ind.value,
                ))
            elif info.virtual:
                hits.append(_hit(
                    "ind_virtual_number",
                    f"{info.national[:3]} 号段是虚拟运营商号段，常被诈骗分子使用（提示，不是定论）",
                    1, ind.value,
                ))
            if entry is None and (police or banks):
                if police:
                    hits.append(_hit(
                        "ind_unofficial_number",
                        f"自称「{police[0]}」，但 {ind.value} 不是官方号码：公检法机关不会打电话办案、要钱，报警请打 {POLICE_OFFICIAL}",
                        2, ind.value,
                    ))
                else:
                    name, number = banks[0]
                    official = f"官方客服电话是 {number}" if number else "银行官方客服是 95 开头的号码"
                    hits.append(_hit(
                        "ind_unofficial_number",
                        f"自称「{name}」，但 {ind.value} 不是它的官方号码：{official}，请自己拨打核实",
                        2, ind.value,
                    ))
    unique: Dict[Tuple[str, str], RedFlagHit] = {}
    for hit in hits:
        unique.setdefault((hit.id, hit.quote), hit)
    return sorted(unique.values(), key=lambda h: -h.weight)


def merge_red_flags(text_hits: Sequence[RedFlagHit], indicator_hits: Sequence[RedFlagHit]) -> List[RedFlagHit]:
    """Text red flags + indicator red flags, without saying the same thing twice."""
    have = {h.id for h in text_hits}
    extra = [h for h in indicator_hits if OVERLAPS_WITH.get(h.id) not in have]
    return sorted([*text_hits, *extra], key=lambda h: -h.weight)


def indicator_advice(
    indicators: Sequence[Indicator], kb: Optional["KnowledgeBase"], blocklist: Optional["Blocklist"] = None
) -> List[str]:
    """How to verify through the official channel, for allowlisted indicators."""
    from bot.kb.blocklist import builtin_allowlist

    source = blocklist if blocklist is not None else builtin_allowlist(kb)
    lines: List[str] = []
    for ind in indicators:
        if ind.kind == "url":
            official = official_domain_of(url_host(ind.value))
            if official:
                lines.append(
                    f"{ind.value} 看起来是{official[0]}的官网地址。稳妥起见，请自己在浏览器输入官网或用官方App核实，不要点短信里的链接。"
                )
            continue
        entry = source.check(ind)
        if entry is None or entry.list != "allow":
            continue
        name = entry.note or "官方"
        if ind.kind == "phone":
            digits = re.sub(r"[^\d]", "", ind.value)
            if digits.endswith("96110"):
                lines.append("96110 是全国反诈预警专线。它打给您，是真的在提醒您，请接听、照它说的做。")
            elif digits.endswith("12381"):
                lines.append("12381 是工信部的涉诈预警短信号码。收到它的短信，说明您可能正被骗子盯上：先停下，别转账。")
            else:
                lines.append(
                    f"{ind.value} 是{name}的官方号码。要核实，请挂断后自己拨打 {ind.value}，不要回拨来电，也不要让对方“转接”。"
                )
        else:
            lines.append(f"{ind.value} 在官方名单上（{name}）。仍请通过官方电话或官方App自己核实。")
    return list(dict.fromkeys(lines))
