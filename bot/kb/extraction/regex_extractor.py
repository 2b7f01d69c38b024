"""Indicators without spaCy: the same candidates and rules as the spaCy pipeline, by regex.

For processes where spaCy is not installed (issue 17: the gateway on Python 3.12). It
labels a candidate token exactly as the ruler's single-token rules do; organisations
it finds from the lexicon terms, with a known place and district written before them
and a 客服-like suffix after, where the spaCy pipeline uses jieba's words. So it may
differ on organisations; `make eval`'s span score reports both.
"""
from __future__ import annotations

import re
from typing import List, Optional, Tuple

from bot.kb.extraction import patterns as p
from bot.kb.extraction.entities import written
from bot.kb.loader import KnowledgeBase
from bot.kb.results import Indicator
from bot.kb.text import normalize

_RULES = [(label, re.compile(regex), family, cue) for label, regex, family, cue in p.TOKEN_RULES]


class RegexExtractor:
    """An `Extractor` built from the KB's lexicons, no spaCy."""

    def __init__(self, kb: KnowledgeBase) -> None:
        orgs, apps = p.lexicon_terms(kb)
        lex = kb.lexicons
        self._term_re = p.term_pattern(p.segmenter_terms(kb), lex.short_forced)
        self._orgs = {t.lower() for t in orgs}
        self._apps = {t.lower() for t in apps}
        # two-character organisation words the spaCy pipeline gets from jieba's words
        short = sorted((t for t in orgs if len(t) < 3 and not t.isascii() and t not in lex.short_forced), key=len)
        self._short_orgs = re.compile("|".join(map(re.escape, short))) if short else None
        places = "|".join(map(re.escape, sorted(lex.place_names, key=len, reverse=True)))
        self._place_before = re.compile(
            rf"(?:(?:{places})(?:省|市|自治区|自治州)?)?(?P<district>[\u4e00-\u9fa5]{{2,3}}(?:区|县))?$"
        )
        self._not_places = set(lex.not_places)
        self._suffix_after = re.compile("|".join(map(re.escape, sorted(lex.org_suffixes, key=len, reverse=True))))

    def __call__(self, text: str) -> List[Indicator]:
        if not text or not text.strip():
            return []
        norm = normalize(text)
        found = self._labelled(norm)
        return [Indicator(kind, written(text, norm, s, e), s, e) for s, e, kind in found]

    def _labelled(self, norm: str) -> List[Tuple[int, int, str]]:
        spans: List[Tuple[int, int, str]] = []
        cands = p.candidates(norm, self._term_re)
        for start, end, family, cue in cands:
            label = self._label(norm, start, end, family, cue)
            if label:
                spans.append((start, end, label))
        taken = [(s, e) for s, e, _, _ in cands]
        if self._short_orgs is not None:
            for m in self._short_orgs.finditer(norm):
                if not any(s < m.end() and m.start() < e for s, e in taken):
                    spans.append((m.start(), m.end(), "organization"))
        spans.sort()
        return self._organisations(norm, spans)

    def _label(self, norm: str, start: int, end: int, family: str, cue: str) -> Optional[str]:
        value = norm[start:end]
        if family == "term":
            lower = value.lower()
            return "organization" if lower in self._orgs else "app" if lower in self._apps else None
        cue = p.token_cue(norm, start, end, family, cue)
        for label, regex, rule_family, rule_cue in _RULES:
            if rule_family == family and p.cue_matches(rule_cue, cue) and regex.search(value):
                return label
        return None

    def _organisations(self, norm: str, spans: List[Tuple[int, int, str]]) -> List[Tuple[int, int, str]]:
        """Adjacent organisation words as one, with the places before and a suffix after."""
        merged: List[Tuple[int, int, str]] = []
        for start, end, kind in spans:
            if kind == "organization" and merged and merged[-1][2] == "organization" and merged[-1][1] == start:
                start = merged.pop()[0]
            merged.append((start, end, kind))
        out = []
        for start, end, kind in merged:
            if kind == "organization":
                place = self._place_before.search(norm, 0, start)
                if place and place.start() < start and place.group("district") not in self._not_places:
                    start = place.start()
                suffix = self._suffix_after.match(norm, end)
                if suffix:
                    end = suffix.end()
            out.append((start, end, kind))
        return out
