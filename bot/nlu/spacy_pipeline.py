"""The project's own spaCy pipeline for indicators (nothing downloaded).

    python -m bot.nlu.spacy_pipeline build/spacy_zh

builds ``spacy.blank("zh")`` with the jieba segmenter and two components, and saves it
with ``nlp.to_disk``; Rasa loads it through ``SpacyNLP`` (``model: build/spacy_zh``) and
``SpacyEntityExtractor`` returns its entities, whose labels are the indicator kinds of
the DESIGN (phone, url, bank_card, id_number, amount, qq, wechat_id, app, organization).

1. ``indicator_segmenter`` (registered here) fixes the token boundaries jieba gets
   wrong for evidence: it makes every phone number, link, card or ID number, amount,
   account id and lexicon term exactly one token (jieba cuts ``138-1234-5678`` into five
   tokens and glues ``QQ123456789`` into one), and marks tokens whose meaning depends on
   the words in front of them (``QQ号：…``, ``微信…``, ``卡号…``, ``转了…``) with
   ``token._.indicator_cue``.  It labels nothing itself.
2. ``entity_ruler`` assigns the labels: token patterns (regular expressions over those
   tokens, cue-gated patterns for QQ/WeChat ids and bare amounts, place + organisation
   sequences) and phrase patterns generated from the knowledge base (bank names and
   aliases, organisation terms among the scam types' keywords) plus the built-in
   lexicons below (organisations, apps).

Because the segmenter decides boundaries from the text itself, extraction gives the
same result whether or not jieba's process-wide dictionary holds Rasa's user words.
The segmenter must be registered before ``spacy.load``: importing this module does it
(``bot.nlu`` imports it, and Rasa imports ``bot.nlu`` for the project's components).
"""
from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Token
from spacy.util import get_words_and_spaces

logger = logging.getLogger(__name__)

PIPELINE_NAME = "fanzha_indicators"
PIPELINE_VERSION = "1.0.0"
CUE_ATTR = "indicator_cue"
FAMILY_ATTR = "indicator_family"
SEGMENTER = "indicator_segmenter"
KINDS = ("phone", "url", "bank_card", "id_number", "amount", "qq", "wechat_id", "app", "organization")

if not Token.has_extension(CUE_ATTR):
    # "" rather than None: the Matcher's NOT_IN predicate is False for None.
    Token.set_extension(CUE_ATTR, default="")
if not Token.has_extension(FAMILY_ATTR):
    # What the segmenter made the token for: url | number | amount | id | term ("" otherwise).
    Token.set_extension(FAMILY_ATTR, default="")

# ---------------------------------------------------------------------------------------
# Regular expressions (shared by the segmenter, which finds candidates, and the ruler's
# token patterns, which classify a candidate token as a whole).
# ---------------------------------------------------------------------------------------

_URL_CHAR = r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]"
TLDS = sorted(
    """com cn net org top xyz cc vip io me info site shop club online live app ink link pro
    wang ltd store tech fun icu work asia biz co tv hk tw mo us uk so gd ly la im ml ga cf gq
    tk ren kim mobi life cloud space website win bid loan red one ai gov edu xin fit pw today
    email group center""".split(),
    key=len,
    reverse=True,
)
_TLD = "(?:" + "|".join(TLDS) + ")"
_PORT_PATH = rf"(?::\d{{2,5}})?(?:[/?#]{_URL_CHAR}*)?"
SCHEME_URL = rf"(?:https?|ftp)://{_URL_CHAR}+"
WWW_URL = rf"www\.(?:[A-Za-z0-9\-]+\.)+[A-Za-z]{{2,}}{_PORT_PATH}"
DOMAIN = rf"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{{0,61}}[A-Za-z0-9])?\.)+{_TLD}(?![A-Za-z0-9\-]){_PORT_PATH}"
IPV4 = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}"
IP_URL = rf"{IPV4}{_PORT_PATH}"
URL_TOKEN = rf"(?i)^(?:{SCHEME_URL}|{WWW_URL}|{DOMAIN}|{IP_URL})$"

_SEP = r"[\s\-]"
MOBILE = r"1[3-9]\d{9}"
MOBILE_GROUPED = rf"1[3-9]\d{_SEP}?\d{{4}}{_SEP}?\d{{4}}"
CN_PREFIX = r"(?:\(\+86\)|\+86|0086)"
PHONE_CN = rf"(?:{CN_PREFIX}{_SEP}?)?{MOBILE_GROUPED}"
LANDLINE = (
    rf"(?:{CN_PREFIX}{_SEP}?)?(?:\(0\d{{2,3}}\)\s?|0\d{{2,3}}{_SEP}?)"
    rf"(?:[1-9]\d{{6,7}}|[1-9]\d{{2,3}}{_SEP}\d{{4}})(?:-\d{{1,4}})?"
)
INTL_PLUS = rf"\+(?!86)\d{{1,4}}(?:{_SEP}?\(\d{{1,4}}\))?(?:{_SEP}?\d{{2,5}}){{1,4}}"
INTL_00 = rf"00\s?(?!86)[1-9]\d{{0,2}}(?:{_SEP}?\d{{2,5}}){{1,4}}"
SERVICE_400 = rf"[48]00(?:{_SEP}?\d){{7}}"
SERVICE_9X = r"9[56]\d{3}"
SHORT_OFFICIAL = r"(?:110|119|120|122|12110|12315|12321|12345|12377|12381|12306|10086|10010|10000)"

PHONE_TOKENS = [
    rf"^{PHONE_CN}$",
    rf"^{LANDLINE}$",
    rf"^{INTL_PLUS}$",
    rf"^{INTL_00}$",
    rf"^{SERVICE_400}$",
    rf"^{SERVICE_9X}$",
]

ID_NUMBER = r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
ID_GROUPED = rf"[1-9]\d{{5}}{_SEP}(?:18|19|20)\d{{2}}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]){_SEP}\d{{3}}[\dXx]"
ID_LOOSE = r"\d{15}|\d{17}[\dXx]"
CARD_PLAIN = r"[3-6]\d{15,18}"
CARD_GROUPED = rf"[3-6]\d{{3}}(?:{_SEP}\d{{4}}){{3}}(?:{_SEP}?\d{{1,3}})?|[3-6]\d{{5}}{_SEP}\d{{10,13}}"

_NUM = r"\d+(?:,\d{3})*(?:\.\d+)?"
_CURRENCY = r"(?:元|块钱|块|圆|美元|美金|港币|港元|欧元|日元|英镑|刀|人民币|RMB|rmb|USDT|usdt)"
_UNIT_TAIL = rf"(?:[万千百亿](?:多|余)?{_CURRENCY}?|(?:多|余)?{_CURRENCY}|[wWkK](?![A-Za-z]))"
AMOUNT_DIGITS = (
    rf"\d+(?:\.\d+)?万\d(?:千)?(?:多|余)?{_CURRENCY}?"  # 2万4, 1万5千元 (before 2万 below)
    rf"|(?:[¥￥$]\s?|(?:RMB|rmb|人民币)\s?){_NUM}(?:{_UNIT_TAIL})?"
    rf"|{_NUM}\s?{_UNIT_TAIL}"
)
_CN_DIGIT = "零一二两三四五六七八九十百千万亿几"
AMOUNT_CN = rf"[一二两三四五六七八九十几][{_CN_DIGIT}]*(?:多|余|来)?{_CURRENCY}?"
AMOUNT_TOKENS = [
    rf"^(?:{AMOUNT_DIGITS})$",
    rf"^{AMOUNT_CN}$",
]
BARE_AMOUNT = r"^(?:\d{1,3}(?:,\d{3})+|\d{2,7})(?:\.\d{1,2})?$"
QQ_NUMBER = r"^[1-9]\d{4,10}$"
WECHAT_ID = r"^(?:[A-Za-z][A-Za-z0-9_\-]{5,19}|1[3-9]\d{9})$"

# Words in front of a token that say what it is ("QQ号：", "加微信", "卡号", "转了" …).
_CUE_TAIL = r"[\s:：,，]*(?:号码?|账号)?(?:是|为|就是|也是)?[\s:：]*$"
CUES = {
    "qq": re.compile(r"(?:QQ|qq|Qq|扣扣|企鹅|Q号|q号)(?:号码?|群号?|群|账号)?" + _CUE_TAIL),
    "wechat": re.compile(
        r"(?:微信|威信|薇信|徽信|维信|V信|v信|VX|vx|Vx|wx|WX|weixin|wechat|WeChat|卫星)"
        r"(?:号码?|账号|ID|id|名)?(?:搜索?|添加|加)?" + _CUE_TAIL
    ),
    "id": re.compile(r"(?:身份证|证件)(?:号码?)?" + _CUE_TAIL),
    "card": re.compile(r"(?:卡号|银行卡|银行卡号|储蓄卡|信用卡|借记卡|卡|收款账户|收款账号|账户)(?:号码?)?" + _CUE_TAIL),
    "phone": re.compile(
        r"(?:电话|手机|手机号|号码|来电|致电|拨打|拨|打|热线|座机|联系方式|tel|Tel|TEL)(?:号码?|是)?" + _CUE_TAIL
    ),
    "money": re.compile(
        r"(?:转账?|汇款?|付款?|支付|交|(?<!冒)充值?|借|贷|投资?|投入|赔|亏|给|花|骗|骗走|损失|垫付|垫|存|取|"
        r"收|要|退|返|赚|扣|提现|押金|保证金|费|本金|利息|工资|佣金|奖金|余额|额度|金额|一共|总共|共计)"
        r"(?:了|过|掉|走|进|出)?(?:我|他|她|对方|人家|他们|她们)?(?:了)?[\s:：]*(?:是|为)?[\s:：]*$"
    ),
}
WECHAT_CANDIDATE = re.compile(
    CUES["wechat"].pattern[:-1] + r"(?P<id>(?<![A-Za-z0-9_\-])(?:[A-Za-z][A-Za-z0-9_\-]{5,19}|1[3-9]\d{9})(?![A-Za-z0-9_\-]))"
)
QQ_CANDIDATE = re.compile(CUES["qq"].pattern[:-1] + r"(?P<id>[1-9]\d{4,10})(?!\d)")
QUOTED_APP = re.compile(
    r"[“\"「『《‘']\s*(?P<id>[A-Za-z0-9\u4e00-\u9fa5]{2,12}?)\s*[”\"」』》’']\s*(?:的)?\s*(?:APP|App|app|软件|客户端)"
)
CALLED_APP = re.compile(
    r"(?:叫|叫做|名叫|名为)\s*(?!什么|什幺|啥|这个|那个|一个|某某)"
    r"(?P<id>(?:(?!的|那个|这个)[A-Za-z0-9\u4e00-\u9fa5]){2,8}?)\s*(?:的)?\s*(?:APP|App|app|软件|客户端)"
)

_NOT_ALNUM_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_ALNUM_AFTER = r"(?![0-9A-Za-z])"
# (family, regex); every match becomes one token.  Order only breaks exact ties.
CANDIDATES: List[Tuple[str, re.Pattern]] = [
    ("url", re.compile(rf"(?i){SCHEME_URL}")),
    ("url", re.compile(rf"(?i)(?<![A-Za-z0-9@.\-_/]){WWW_URL}")),
    ("url", re.compile(rf"(?i)(?<![A-Za-z0-9@.\-_/]){DOMAIN}")),
    ("url", re.compile(rf"(?<![\d.]){IP_URL}(?![\d.])")),
    ("number", re.compile(rf"(?<![\d+]){PHONE_CN}(?!\d)")),
    ("number", re.compile(rf"(?<![\d+]){LANDLINE}(?!\d)")),
    ("number", re.compile(rf"(?<![\d+]){INTL_PLUS}(?!\d)")),
    ("number", re.compile(rf"(?<![\d+]){INTL_00}(?!\d)")),
    ("number", re.compile(rf"(?<!\d){SERVICE_400}(?!\d)")),
    ("number", re.compile(rf"{_NOT_ALNUM_BEFORE}{ID_GROUPED}{_NOT_ALNUM_AFTER}")),
    ("number", re.compile(rf"{_NOT_ALNUM_BEFORE}\d{{17}}[\dXx]{_NOT_ALNUM_AFTER}")),
    ("number", re.compile(rf"(?<!\d){CARD_GROUPED}(?!\d)")),
    ("amount", re.compile(rf"(?<![\d.]){AMOUNT_DIGITS}")),
    ("amount", re.compile(rf"(?<![{_CN_DIGIT}]){AMOUNT_CN}")),
    ("number", re.compile(rf"(?<![0-9A-Za-z.]){_NUM}(?![0-9A-Za-z])")),
]
# A Chinese numeral is an amount only with a magnitude (百千万亿) or a currency word.
_CN_MAGNITUDE = re.compile(r"[百千万亿]")
_CURRENCY_END = re.compile(_CURRENCY + "$")
# … and not when a measure word follows (一千多人, 两万个, 五千米).
_MEASURE_AFTER = re.compile(
    r"^(?:多|余|来)?(?:个|人|名|位|条|次|件|张|天|年|月|日|岁|步|米|公里|里|字|页|号|粉|份|倍|分|秒|小时|"
    r"平|斤|克|度|场|家|所|台|部|辆|套|遍|户|股|点|毫|公斤|千克|吨|元素|平米)"
)

# ---------------------------------------------------------------------------------------
# Lexicons.  The KB adds its bank names/aliases and organisation-like keywords.
# ---------------------------------------------------------------------------------------

ORGANIZATIONS = """
公安局 公安分局 公安厅 公安部 派出所 刑侦大队 刑警大队 经侦大队 经侦支队 刑侦支队 网警大队 网安大队
交警大队 公安机关 公检法 司法机关 检察院 人民检察院 最高人民检察院 法院 人民法院 中级人民法院 高级人民法院
最高人民法院 国家反诈中心 反诈中心 国家安全局 国安局 公安 警方
医保局 医疗保障局 社保局 社保中心 人社局 税务局 国家税务总局 市场监管局 市场监督管理局 工商局 银保监会
国家金融监督管理总局 证监会 中国人民银行 人民银行 卫健委 疾控中心 教育局 海关 海关总署 民政局 车管所
通信管理局 工信部 邮政局 招生办
中国移动 中国联通 中国电信 移动客服 联通客服 电信客服 运营商
淘宝客服 天猫客服 京东客服 拼多多客服 抖音客服 快手客服 闲鱼客服 唯品会客服 苏宁客服 美团客服 饿了么客服
携程客服 支付宝客服 微信客服 微信支付客服 电商客服 平台客服 官方客服 航空公司 东方航空 南方航空 国航 东航 南航
顺丰快递 顺丰速运 中通快递 圆通快递 申通快递 韵达快递 极兔快递 极兔速递 百世快递 德邦快递 京东物流 京东快递 邮政快递
中国邮政 邮政速递 联邦快递 FedEx DHL UPS 菜鸟裹裹
EMS 菜鸟驿站 快递公司 快递客服 物流公司 保险公司
银行 中国工商银行 工商银行 工行 中国建设银行 建设银行 建行 中国银行 中行 中国农业银行 农业银行 农行
交通银行 交行 招商银行 招行 中国邮政储蓄银行 邮储银行 邮政储蓄银行 浦发银行 民生银行 兴业银行 中信银行
光大银行 华夏银行 平安银行 广发银行 北京银行 上海银行 农商银行 农村商业银行 农村信用社 信用社
""".split()

APPS = """
向日葵 ToDesk TeamViewer AnyDesk 腾讯会议 钉钉 飞书 飞书会议 Zoom 小鱼易连 华为云会议 WeLink 全时云会议 云视讯
Skype 网易会议 Telegram 纸飞机 蝙蝠 蝙蝠聊天 WhatsApp 易信 连信 Potato 土豆聊天 默往 QQ远程协助
国家反诈中心APP
""".split()

# Two-character names that are never part of another word, kept whole like longer terms.
SHORT_FORCED = {"钉钉", "飞书", "连信", "易信", "默往", "招行", "工行", "农行", "建行", "交行"}

# Words containing an organisation word that are not organisations (kept whole so that
# 银行 inside them is not labelled).
NOT_ORGANIZATIONS = ["手机银行", "网上银行", "银行卡", "银行卡号", "银行账户", "银行账号", "银行流水", "网银"]

# After an organisation: 工商银行客服, 招商银行信用卡中心.
ORG_SUFFIXES = ["客服", "官方客服", "客服中心", "信用卡中心", "客服热线"]
# Places written in front of an organisation: 北京市公安局, 杭州市西湖区公安分局.
PLACE_NAMES = """
北京 上海 天津 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东 海南 四川 贵州
云南 陕西 甘肃 青海 台湾 内蒙古 广西 西藏 宁夏 新疆 香港 澳门 深圳 广州 杭州 南京 武汉 成都 西安 郑州 长沙 济南
青岛 大连 沈阳 哈尔滨 长春 石家庄 太原 合肥 福州 厦门 南昌 南宁 昆明 贵阳 兰州 西宁 银川 乌鲁木齐 呼和浩特
拉萨 海口 三亚 苏州 无锡 宁波 温州 东莞 佛山 珠海 泉州 徐州 常州 烟台 潍坊 洛阳 唐山 保定 绍兴 嘉兴 台州
金华 扬州 南通 盐城 惠州 中山 汕头 湛江 桂林 绵阳 宜昌 襄阳 岳阳 株洲 赣州 芜湖 淄博 临沂 济宁 邯郸 包头
""".split()
PLACE_TOKEN = r"^[\u4e00-\u9fa5]{1,6}(?:省|市|区|县|州|旗|自治区|自治州)$"
NOT_PLACES = """城市 超市 都市 市区 城区 地区 小区 社区 景区 园区 山区 郊区 街区 辖区 本市 全市 全省 本省 外省 股市 楼市
夜市 集市 菜市 门市 上市 黑市 专区 灾区 误区 雷区 禁区 盲区 片区 学区 新区 老区 分区 商业区 开发区 疫区""".split()

# Organisation-like words among the KB keywords: they end like an institution does.
_KB_ORG_END = re.compile(r"(?:局|院|所|厅|部|委|署|中心|银行|法院|检察院|客服|快递|速运|物流|公司|大队|支队|海关|航空)$")
_KB_NOT_ORG = re.compile(r"(?:卡$|账户|账号|贷|码|费|保证金|押金|诈骗|冒充|假|骗|养老院|医院|工作室)")
# KB aliases too ambiguous to label on their own (民生 is also "people's livelihood").
_KB_AMBIGUOUS = {"民生"}


def _normalise_terms(terms: Iterable[str]) -> List[str]:
    seen: Dict[str, str] = {}
    for term in terms:
        term = (term or "").strip()
        if term and term.lower() not in seen:
            seen[term.lower()] = term
    return sorted(seen.values(), key=lambda t: (-len(t), t))


def kb_lexicons(kb) -> Dict[str, List[str]]:
    """Organisation and app terms taken from the knowledge base."""
    orgs: List[str] = []
    apps: List[str] = []
    for bank in getattr(kb, "banks", []):
        orgs.extend(a for a in [bank.name, *bank.aliases] if a not in _KB_AMBIGUOUS)
    app_words = {a.lower() for a in APPS}
    for scam in getattr(kb, "scam_types", {}).values():
        for word in [*scam.keywords, *scam.aliases]:
            if word.lower() in app_words:
                apps.append(word)
            elif len(word) >= 3 and _KB_ORG_END.search(word) and not _KB_NOT_ORG.search(word):
                orgs.append(word)
    return {"organization": orgs, "app": apps}


# ---------------------------------------------------------------------------------------
# The segmenter component.
# ---------------------------------------------------------------------------------------


def _is_ascii_word_char(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


class IndicatorSegmenter:
    """Re-segments a jieba Doc so that each piece of evidence is exactly one token."""

    def __init__(self, vocab, name: str = SEGMENTER, terms: Sequence[str] = ()) -> None:
        self.vocab = vocab
        self.name = name
        self.set_terms(terms)

    # -- lexicon terms kept whole ------------------------------------------------
    def set_terms(self, terms: Sequence[str]) -> None:
        # Two-character Chinese words (银行, 法院, 工行 …) are left to jieba: forcing
        # them would cut 银行卡 or 执行中行动 apart.  Longer terms and Latin names are kept
        # whole wherever they occur.
        self.terms = _normalise_terms(terms)
        forced = [t for t in self.terms if len(t) >= 3 or t.isascii() or t in SHORT_FORCED]
        parts = []
        for term in forced:
            part = re.escape(term)
            if _is_ascii_word_char(term[0]):
                part = r"(?<![A-Za-z0-9])" + part
            if _is_ascii_word_char(term[-1]):
                part += r"(?![A-Za-z0-9])"
            parts.append(part)
        self._term_re = re.compile("|".join(parts), re.IGNORECASE) if parts else None

    # -- candidates -------------------------------------------------------------
    def candidates(self, text: str) -> List[Tuple[int, int, str, str]]:
        """Non-overlapping (start, end, family, cue) spans, leftmost-longest."""
        found: List[Tuple[int, int, int, str, str]] = []  # start, end, priority, family, cue
        for priority, (family, pattern) in enumerate(CANDIDATES):
            for m in pattern.finditer(text):
                start, end = m.span()
                if family == "url":
                    end = start + len(_strip_url_tail(m.group()))
                elif family == "amount" and not _valid_amount(text, start, end):
                    continue
                if end > start:
                    found.append((start, end, priority, family, ""))
        for cue, pattern in (("qq", QQ_CANDIDATE), ("wechat", WECHAT_CANDIDATE),
                             ("app", QUOTED_APP), ("app", CALLED_APP)):
            for m in pattern.finditer(text):
                start, end = m.span("id")
                # Cue-gated ids outrank a plain number or word at the same place.
                found.append((start, end, -1, "id", cue))
        if self._term_re is not None:
            for m in self._term_re.finditer(text):
                found.append((m.start(), m.end(), len(CANDIDATES), "term", ""))
        found.sort(key=lambda c: (c[0], -10_000 if c[2] < 0 else -(c[1] - c[0]), c[2]))
        chosen: List[Tuple[int, int, str, str]] = []
        last_end = -1
        for start, end, _, family, cue in found:
            if start >= last_end:
                chosen.append((start, end, family, cue))
                last_end = end
        return chosen

    # -- component ----------------------------------------------------------------
    def __call__(self, doc: Doc) -> Doc:
        text = doc.text
        spans = self.candidates(text)
        if not spans:
            return doc
        bounds = set()
        for token in doc:
            bounds.add(token.idx)
            bounds.add(token.idx + len(token.text))
        for start, end, _, _ in spans:
            bounds = {b for b in bounds if not start < b < end}
            bounds.update((start, end))
        bounds.update((0, len(text)))
        cuts = sorted(bounds)
        new = [(a, b) for a, b in zip(cuts, cuts[1:]) if not text[a:b].isspace()]
        old = [(t.idx, t.idx + len(t.text)) for t in doc if not t.text.isspace()]
        if old != new:
            words, spaces = get_words_and_spaces([text[a:b] for a, b in new], text)
            doc = Doc(self.vocab, words=words, spaces=spaces)
        marks = {start: (end, family, cue) for start, end, family, cue in spans}
        for token in doc:
            mark = marks.get(token.idx)
            if mark and mark[0] == token.idx + len(token.text):
                _, family, cue = mark
                token._.set(FAMILY_ATTR, family)
                if not cue and family in ("number", "amount"):
                    cue = _cue_before(text, token.idx, token.idx + len(token.text))
                token._.set(CUE_ATTR, cue)
        return doc

    # -- serialisation ----------------------------------------------------------------
    def to_disk(self, path, exclude=tuple()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "terms.json").write_text(json.dumps(self.terms, ensure_ascii=False, indent=0), encoding="utf-8")

    def from_disk(self, path, exclude=tuple()) -> "IndicatorSegmenter":
        self.set_terms(json.loads((Path(path) / "terms.json").read_text(encoding="utf-8")))
        return self

    def to_bytes(self, exclude=tuple()) -> bytes:
        return json.dumps(self.terms, ensure_ascii=False).encode("utf-8")

    def from_bytes(self, data: bytes, exclude=tuple()) -> "IndicatorSegmenter":
        self.set_terms(json.loads(data.decode("utf-8")))
        return self


@Language.factory(SEGMENTER, default_config={})
def make_indicator_segmenter(nlp, name):  # no annotations: spaCy resolves them at runtime
    return IndicatorSegmenter(nlp.vocab, name)


def _strip_url_tail(url: str) -> str:
    url = url.rstrip(".,;:!?'\"")
    while url.endswith(")") and url.count("(") < url.count(")"):
        url = url[:-1].rstrip(".,;:!?'\"")
    while url.endswith("]") and url.count("[") < url.count("]"):
        url = url[:-1]
    return url


def _valid_amount(text: str, start: int, end: int) -> bool:
    value = text[start:end]
    if _MEASURE_AFTER.match(text[end:end + 3]):
        return False
    if value[0] in _CN_DIGIT:
        return bool(_CN_MAGNITUDE.search(value) or _CURRENCY_END.search(value)) and len(value) >= 2
    return True


def _cue_before(text: str, start: int, end: int) -> str:
    """The cue in front of a numeric token ("" if none)."""
    window = text[max(0, start - 12):start]
    for cue in ("qq", "wechat", "id", "card", "money", "phone"):
        if CUES[cue].search(window):
            if cue == "money" and (text[end:end + 1] in ("%", "％") or _MEASURE_AFTER.match(text[end:end + 3])):
                return ""  # 共12期, 30%的解冻金, 500分钟: a count or a rate, not money
            return cue
    return ""


# ---------------------------------------------------------------------------------------
# Ruler patterns.
# ---------------------------------------------------------------------------------------


def _tok(regex: str, family: str, cue=None) -> dict:
    """One candidate token of `family` whose text matches `regex` (and whose cue is `cue`)."""
    ext = {FAMILY_ATTR: family}
    if cue is not None:
        ext[CUE_ATTR] = cue
    return {"TEXT": {"REGEX": regex}, "_": ext}


def token_patterns(org_terms: Sequence[str]) -> List[dict]:
    not_money = {"NOT_IN": ["money", "qq", "wechat"]}
    patterns: List[dict] = [{"label": "url", "pattern": [_tok(URL_TOKEN, "url")]}]
    for regex in PHONE_TOKENS:
        patterns.append({"label": "phone", "pattern": [_tok(regex, "number", not_money)]})
    patterns += [
        {"label": "phone", "pattern": [_tok(rf"^{SHORT_OFFICIAL}$", "number", not_money)]},
        {"label": "phone", "pattern": [_tok(r"^[2-8]\d{6,7}$", "number", "phone")]},
        {"label": "id_number", "pattern": [_tok(rf"^(?:{ID_NUMBER}|{ID_GROUPED})$", "number", {"NOT_IN": ["card"]})]},
        {"label": "id_number", "pattern": [_tok(rf"^(?:{ID_LOOSE})$", "number", "id")]},
        {"label": "bank_card", "pattern": [_tok(rf"^(?!(?:{ID_NUMBER})$)(?:{CARD_PLAIN}|{CARD_GROUPED})$", "number", {"NOT_IN": ["id"]})]},
        {"label": "bank_card", "pattern": [_tok(r"^\d(?:[\s\-]?\d){15,18}$", "number", "card")]},
        {"label": "qq", "pattern": [_tok(QQ_NUMBER, "id", "qq")]},
        {"label": "wechat_id", "pattern": [_tok(WECHAT_ID, "id", "wechat")]},
        {"label": "app", "pattern": [_tok(r"^\S+$", "id", "app")]},
        {"label": "amount", "pattern": [_tok(BARE_AMOUNT, "number", "money")]},
    ]
    for regex in AMOUNT_TOKENS:
        patterns.append({"label": "amount", "pattern": [_tok(regex, "amount")]})
    # Place + organisation (+ 客服): 北京市公安局, 杭州市西湖区公安分局, 工商银行客服.
    place = {"TEXT": {"REGEX": PLACE_TOKEN, "NOT_IN": NOT_PLACES}}
    known_place = {"TEXT": {"IN": PLACE_NAMES}}
    org = {"LOWER": {"IN": sorted({t.lower() for t in org_terms})}}
    suffix = {"TEXT": {"IN": ORG_SUFFIXES}, "OP": "?"}
    patterns += [
        {"label": "organization", "pattern": [{**known_place, "OP": "?"}, {**place, "OP": "*"}, org, suffix]},
        # Two organisation words in a row are one unit: 广州市公安局刑侦大队, 中国人民银行征信中心.
        {"label": "organization", "pattern": [{**known_place, "OP": "?"}, {**place, "OP": "*"}, org, org, suffix]},
    ]
    return patterns


def phrase_patterns(orgs: Sequence[str], apps: Sequence[str]) -> List[dict]:
    return [{"label": "organization", "pattern": t} for t in orgs] + [
        {"label": "app", "pattern": t} for t in apps
    ]


# ---------------------------------------------------------------------------------------
# Building, saving, loading.
# ---------------------------------------------------------------------------------------


def blank_zh() -> Language:
    return spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})


def create_pipeline(kb=None) -> Language:
    """A new pipeline; `kb` adds its banks and organisation keywords (None: built-ins only)."""
    extra = kb_lexicons(kb) if kb is not None else {"organization": [], "app": []}
    orgs = _normalise_terms([*ORGANIZATIONS, *extra["organization"]])
    apps = _normalise_terms([*APPS, *extra["app"]])
    nlp = blank_zh()
    segmenter = nlp.add_pipe(SEGMENTER)
    segmenter.set_terms([*orgs, *apps, *ORG_SUFFIXES, *NOT_ORGANIZATIONS])
    ruler = nlp.add_pipe(
        "entity_ruler",
        config={"phrase_matcher_attr": "LOWER", "validate": True, "overwrite_ents": True},
    )
    ruler.add_patterns(token_patterns(orgs) + phrase_patterns(orgs, apps))
    nlp.meta.update(
        {
            "name": PIPELINE_NAME,
            "version": PIPELINE_VERSION,
            "description": "Indicator extraction for the anti-fraud assistant (jieba + segmenter + entity_ruler)",
            "labels": {"entity_ruler": list(KINDS)},
        }
    )
    return nlp


def build(out_dir: Path | str, kb=None) -> Path:
    """Create the pipeline from the KB and save it with `nlp.to_disk`."""
    if kb is None:
        from bot.kb.loader import load_kb

        kb = load_kb()
    out = Path(out_dir)
    nlp = create_pipeline(kb)
    nlp.to_disk(out)
    return out


def load(path: Path | str) -> Language:
    return spacy.load(path)


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python -m bot.nlu.spacy_pipeline OUT_DIR", file=sys.stderr)
        return 2
    from bot.kb.loader import KnowledgeBaseError, load_kb

    try:
        kb = load_kb()
    except KnowledgeBaseError as err:
        print(f"cannot build the spaCy pipeline: {err}", file=sys.stderr)
        return 1
    out = build(argv[0], kb)
    nlp = load(out)
    ruler = nlp.get_pipe("entity_ruler")
    print(f"spaCy pipeline: {out} ({len(ruler.patterns)} ruler patterns, pipes {nlp.pipe_names})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
