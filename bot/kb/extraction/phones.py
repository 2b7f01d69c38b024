"""Phone numbers: what a number is (overseas, virtual carrier, spoofed +00) and one spelling per number."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

import phonenumbers

# Virtual-carrier (MVNO) ranges often used by fraudsters: a signal, not proof.
VIRTUAL_PREFIXES = ("170", "171", "162", "165", "167")

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
