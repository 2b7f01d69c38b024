"""Regular expressions that find evidence in a text, shared by both extractors.

The spaCy pipeline (spacy_pipeline.py) uses them to cut the text into one token per
piece of evidence and to label those tokens; the pure-regex extractor
(regex_extractor.py) uses the same candidates without spaCy. Nothing here imports spaCy.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Sequence, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from bot.kb.loader import KnowledgeBase

KINDS = ("phone", "url", "bank_card", "id_number", "amount", "qq", "wechat_id", "app", "organization")
Candidate = Tuple[int, int, str, str]  # start, end, family, cue

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

# A jieba token that is a place name written in front of an organisation (北京市, 西湖区).
PLACE_TOKEN = r"^[\u4e00-\u9fa5]{1,6}(?:省|市|区|县|州|旗|自治区|自治州)$"

# ---------------------------------------------------------------------------------------
# Which words of the KB the extractors treat as organisations and apps.
# ---------------------------------------------------------------------------------------

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


def kb_lexicons(kb: "KnowledgeBase") -> Dict[str, List[str]]:
    """Organisation and app terms taken from the knowledge base."""
    orgs: List[str] = []
    apps: List[str] = []
    for bank in kb.banks:
        orgs.extend(a for a in [bank.name, *bank.aliases] if a not in _KB_AMBIGUOUS)
    app_words = {a.lower() for a in kb.lexicons.apps}
    for scam in kb.scam_types.values():
        for word in [*scam.keywords, *scam.aliases]:
            if word.lower() in app_words:
                apps.append(word)
            elif len(word) >= 3 and _KB_ORG_END.search(word) and not _KB_NOT_ORG.search(word):
                orgs.append(word)
    return {"organization": orgs, "app": apps}


def lexicon_terms(kb: "KnowledgeBase") -> Tuple[List[str], List[str]]:
    """(organisations, apps): lexicons.yml plus the KB's banks and organisation keywords."""
    extra = kb_lexicons(kb)
    orgs = _normalise_terms([*kb.lexicons.organizations, *extra["organization"]])
    apps = _normalise_terms([*kb.lexicons.apps, *extra["app"]])
    return orgs, apps


def segmenter_terms(kb: "KnowledgeBase") -> List[str]:
    """Every lexicon term the segmenter keeps whole."""
    orgs, apps = lexicon_terms(kb)
    return [*orgs, *apps, *kb.lexicons.org_suffixes, *kb.lexicons.not_organizations]


# ---------------------------------------------------------------------------------------
# Candidates: every piece of evidence as one span.
# ---------------------------------------------------------------------------------------


def _is_ascii_word_char(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def term_pattern(terms: Sequence[str], short_forced: Iterable[str]) -> Optional[re.Pattern]:
    """One regex for the terms kept whole wherever they occur.

    Two-character Chinese words (银行, 法院, 工行 …) are left to the word segmenter: forcing
    them would cut 银行卡 or 执行中行动 apart. Longer terms and Latin names are kept whole.
    """
    forced_short = set(short_forced)
    forced = [t for t in _normalise_terms(terms) if len(t) >= 3 or t.isascii() or t in forced_short]
    parts = []
    for term in forced:
        part = re.escape(term)
        if _is_ascii_word_char(term[0]):
            part = r"(?<![A-Za-z0-9])" + part
        if _is_ascii_word_char(term[-1]):
            part += r"(?![A-Za-z0-9])"
        parts.append(part)
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def candidates(text: str, term_re: Optional[re.Pattern]) -> List[Candidate]:
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
    if term_re is not None:
        for m in term_re.finditer(text):
            found.append((m.start(), m.end(), len(CANDIDATES), "term", ""))
    found.sort(key=lambda c: (c[0], -10_000 if c[2] < 0 else -(c[1] - c[0]), c[2]))
    chosen: List[Candidate] = []
    last_end = -1
    for start, end, _, family, cue in found:
        if start >= last_end:
            chosen.append((start, end, family, cue))
            last_end = end
    return chosen


def token_cue(text: str, start: int, end: int, family: str, cue: str) -> str:
    """The cue of a candidate token: its own, or for a number or amount the words before it."""
    if not cue and family in ("number", "amount"):
        return cue_before(text, start, end)
    return cue


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


def cue_before(text: str, start: int, end: int) -> str:
    """The cue in front of a numeric token ("" if none)."""
    window = text[max(0, start - 12):start]
    for cue in ("qq", "wechat", "id", "card", "money", "phone"):
        if CUES[cue].search(window):
            if cue == "money" and (text[end:end + 1] in ("%", "％") or _MEASURE_AFTER.match(text[end:end + 3])):
                return ""  # 共12期, 30%的解冻金, 500分钟: a count or a rate, not money
            return cue
    return ""



# ---------------------------------------------------------------------------------------
# Which label a single candidate token gets: (label, regex, family, cue). `cue` None: any
# cue; a string: exactly that cue; a tuple: none of those cues. The spaCy ruler gets these
# as token patterns; the regex extractor applies them in this order.
# ---------------------------------------------------------------------------------------

Cue = Optional[object]
_NOT_MONEY = ("money", "qq", "wechat")
TOKEN_RULES: List[Tuple[str, str, str, Cue]] = [
    ("url", URL_TOKEN, "url", None),
    *[("phone", regex, "number", _NOT_MONEY) for regex in PHONE_TOKENS],
    ("phone", rf"^{SHORT_OFFICIAL}$", "number", _NOT_MONEY),
    ("phone", r"^[2-8]\d{6,7}$", "number", "phone"),
    ("id_number", rf"^(?:{ID_NUMBER}|{ID_GROUPED})$", "number", ("card",)),
    ("id_number", rf"^(?:{ID_LOOSE})$", "number", "id"),
    ("bank_card", rf"^(?!(?:{ID_NUMBER})$)(?:{CARD_PLAIN}|{CARD_GROUPED})$", "number", ("id",)),
    ("bank_card", r"^\d(?:[\s\-]?\d){15,18}$", "number", "card"),
    ("qq", QQ_NUMBER, "id", "qq"),
    ("wechat_id", WECHAT_ID, "id", "wechat"),
    ("app", r"^\S+$", "id", "app"),
    ("amount", BARE_AMOUNT, "number", "money"),
    *[("amount", regex, "amount", None) for regex in AMOUNT_TOKENS],
]


def spacy_cue(cue: Cue) -> object:
    """A TOKEN_RULES cue as a spaCy Matcher value."""
    return {"NOT_IN": list(cue)} if isinstance(cue, tuple) else cue


def cue_matches(rule_cue: Cue, cue: str) -> bool:
    if rule_cue is None:
        return True
    if isinstance(rule_cue, tuple):
        return cue not in rule_cue
    return cue == rule_cue
