"""Personal data protection: masking for logs and stored conversations.

- `mask_text`: phone numbers (138****5678), bank card numbers (6222 **** **** 1234
  style, separators kept), ID numbers (110***********1234) and the names people give
  after 我叫 / 姓名 / 户名 / 收款人 … (张**).  Masking keeps the length of the text, so
  entity offsets in stored parse data stay valid.
- `MaskingFilter` / `install_log_masking()`: every log record is masked (its message,
  arguments and traceback), whichever logger or handler it goes through.
- `bot.privacy.tracker_store.MaskingTrackerStore`: the Rasa tracker store that masks what
  it stores (only Rasa imports that module; this one imports no Rasa).
"""
from __future__ import annotations

import logging
import re
import threading
from typing import Any, Optional

# -- masking ---------------------------------------------------------------------------------

_SEP = r"[\s\-]"
_ID = re.compile(rf"(?<![0-9A-Za-z])[1-9]\d{{5}}{_SEP}?(?:18|19|20)\d{{2}}\d{{4}}{_SEP}?\d{{3}}[\dXx](?![0-9A-Za-z])")
_CARD = re.compile(rf"(?<![\d*+])\d{{4}}(?:{_SEP}?\d{{4}}){{2,3}}(?:{_SEP}?\d{{1,3}})?(?![\d*])")
_LONG_DIGITS = re.compile(r"(?<![\d*])\d{12,}(?![\d*])")
_PHONES = [
    # mobile, with +86 / 0086 and separators
    re.compile(rf"(?<![\d*])(?:(?:\(?\+86\)?|0086){_SEP}?)?1[3-9]\d{_SEP}?\d{{4}}{_SEP}?\d{{4}}(?![\d*])"),
    # landline
    re.compile(rf"(?<![\d*])(?:\(0\d{{2,3}}\)\s?|0\d{{2,3}}{_SEP}?)[1-9]\d{{2,3}}{_SEP}?\d{{4}}(?![\d*])"),
    # international
    re.compile(rf"(?<![\d*])(?:\+|00)\s?[1-9]\d{{0,3}}(?:{_SEP}?\(?\d{{1,4}}\)?){{1,5}}(?![\d*])"),
]
_SURNAMES = (
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 令狐 长孙 宇文 司徒 夏侯 轩辕 端木 "
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
)
_COMPOUND = [s for s in _SURNAMES.split() if len(s) == 2]
_SINGLE = "".join(s for s in _SURNAMES.split() if len(s) > 2)
_SURNAME = "(?:" + "|".join(_COMPOUND) + f"|[{_SINGLE}])"
_NAME_CUE = r"(?:我叫|我是|本人是?|姓名[是为]?|名字[叫是]|叫做|户名[是为]?|开户名|收款人|持卡人|联系人|家属|老伴|患者)"
_NAME_STOP = "的是在今住家男女和跟说吗呢啊了也就从去到给对把被让要，。、！？,.!?；;：:（）() \n"
_NAME = re.compile(
    rf"(?P<cue>{_NAME_CUE}\s*[:：]?\s*)(?P<surname>{_SURNAME})(?P<given>[\u4e00-\u9fa5]{{1,2}})"
)


def _mask_digits(value: str, keep_start: int, keep_end: int) -> str:
    total = sum(ch.isdigit() or ch in "Xx" for ch in value)
    seen, out = 0, []
    for ch in value:
        if ch.isdigit() or ch in "Xx":
            out.append(ch if seen < keep_start or seen >= total - keep_end else "*")
            seen += 1
        else:
            out.append(ch)
    return "".join(out)


_CN_PREFIX = re.compile(r"^(?:\(?\+86\)?|0086)[\s\-]?")


def _mask_phone(match: re.Match) -> str:
    value = match.group()
    prefix = _CN_PREFIX.match(value)
    if prefix and len(re.sub(r"\D", "", value[prefix.end():])) >= 10:
        return prefix.group() + _mask_digits(value[prefix.end():], 3, 4)
    return _mask_digits(value, 3, 4)


def _mask_name(match: re.Match) -> str:
    given = match.group("given")
    for i, ch in enumerate(given):
        if ch in _NAME_STOP:
            given = given[:i]
            break
    rest = match.group("given")[len(given):]
    return match.group("cue") + match.group("surname") + "*" * len(given) + rest


def mask_text(text: str) -> str:
    """`text` with phone, card and ID numbers and personal names masked (same length)."""
    if not text or not isinstance(text, str):
        return text
    text = _ID.sub(lambda m: _mask_digits(m.group(), 3, 4), text)
    text = _CARD.sub(lambda m: _mask_digits(m.group(), 4, 4), text)
    for pattern in _PHONES:
        text = pattern.sub(_mask_phone, text)
    text = _LONG_DIGITS.sub(lambda m: _mask_digits(m.group(), 4, 4), text)
    return _NAME.sub(_mask_name, text)


# Keys whose values are identifiers or names of things, never what a person typed.
_KEEP_KEYS = {
    "event", "timestamp", "message_id", "policy", "name", "action_name", "intent_name",
    "input_channel", "sender_id", "entity", "extractor", "role", "group", "confidence",
    "start", "end", "id", "intent_ranking", "response_selector", "scam_ranking",
}


def mask_data(value: Any, key: Optional[str] = None) -> Any:
    """A copy of a JSON-like value with every free-text string masked."""
    if key in _KEEP_KEYS:
        return value
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_data(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_data(v) for v in value]
    return value


# -- logging ---------------------------------------------------------------------------------------


class MaskingFilter(logging.Filter):
    """Masks the message, arguments and traceback text of every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


_UNICODE_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _unescape(text: str) -> str:
    """JSON-style \\uXXXX escapes → characters (Rasa's structured debug logs escape all
    Chinese, which would hide 电话13812345678 from the masking); surrogates stay escaped."""
    if "\\u" not in text:
        return text

    def char(match: re.Match) -> str:
        code = int(match.group(1), 16)
        return match.group() if 0xD800 <= code <= 0xDFFF or code < 0x20 else chr(code)

    return _UNICODE_ESCAPE.sub(char, text)


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    if getattr(record, "_fanzha_masked", False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: leave it to logging to report
        return record
    record.msg, record.args = mask_text(_unescape(message)), None
    if record.exc_info and not record.exc_text:
        record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
    elif record.exc_text:
        record.exc_text = mask_text(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_text(record.stack_info)
    record._fanzha_masked = True
    return record


_install_lock = threading.Lock()
_installed = False
MASKING_FILTER = MaskingFilter()


def install_log_masking() -> None:
    """Mask every log record of the process, now and for handlers added later.

    A record factory masks each record when it is created (so handlers that Rasa,
    Sanic or coloredlogs install afterwards get masked records too), and the filter is
    attached to the handlers that already exist.  Idempotent.
    """
    global _installed
    with _install_lock:
        if not _installed:
            previous = logging.getLogRecordFactory()

            def factory(*args, **kwargs):
                return mask_record(previous(*args, **kwargs))

            logging.setLogRecordFactory(factory)
            _installed = True
        loggers = [logging.getLogger()] + [
            l for l in logging.Logger.manager.loggerDict.values() if isinstance(l, logging.Logger)
        ]
        for logger in loggers:
            for handler in logger.handlers:
                if MASKING_FILTER not in handler.filters:
                    handler.addFilter(MASKING_FILTER)


__all__ = ["mask_text", "mask_data", "MaskingFilter", "mask_record", "install_log_masking"]
