"""The project's own spaCy pipeline for indicators (nothing downloaded).

    python -m bot.kb.extraction.spacy_pipeline build/spacy_zh

builds ``spacy.blank("zh")`` with the jieba segmenter and two components, and saves it
with ``nlp.to_disk``; Rasa loads it through ``SpacyNLP`` (``model: build/spacy_zh``) and
``SpacyEntityExtractor`` returns its entities, whose labels are the indicator kinds of
the DESIGN (phone, url, bank_card, id_number, amount, qq, wechat_id, app, organization).
The gateway and the action server load the same folder and hand it to the verdict
engine as a `SpacyExtractor` (bot.runtime.context).

1. ``indicator_segmenter`` (registered here) fixes the token boundaries jieba gets
   wrong for evidence: it makes every phone number, link, card or ID number, amount,
   account id and lexicon term exactly one token (jieba cuts ``138-1234-5678`` into five
   tokens and glues ``QQ123456789`` into one), and marks tokens whose meaning depends on
   the words in front of them (``QQ号：…``, ``微信…``, ``卡号…``, ``转了…``) with
   ``token._.indicator_cue``.  It labels nothing itself.
2. ``entity_ruler`` assigns the labels: token patterns (regular expressions over those
   tokens, cue-gated patterns for QQ/WeChat ids and bare amounts, place + organisation
   sequences) and phrase patterns from data/kb/lexicons.yml plus the KB's bank names and
   organisation keywords.

Because the segmenter decides boundaries from the text itself, extraction gives the
same result whether or not jieba's process-wide dictionary holds Rasa's user words.
The segmenter must be registered before ``spacy.load``: importing this module does it
(``bot.nlu`` imports it, and Rasa imports ``bot.nlu`` for the project's components).
The regular expressions live in patterns.py, shared with the pure-regex extractor.
"""
from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any, List, Optional, Sequence, cast

import spacy
from cachetools import LRUCache
from spacy.language import Language
from spacy.tokens import Doc, Token
from spacy.util import get_words_and_spaces

from bot.kb.extraction import patterns as p
from bot.kb.extraction.entities import written
from bot.kb.loader import KnowledgeBase, KnowledgeBaseError, load_kb
from bot.kb.results import INDICATOR_KINDS, Indicator
from bot.kb.text import normalize

PIPELINE_NAME = "fanzha_indicators"
PIPELINE_VERSION = "1.0.0"
CUE_ATTR = "indicator_cue"
FAMILY_ATTR = "indicator_family"
SEGMENTER = "indicator_segmenter"

if not Token.has_extension(CUE_ATTR):
    # "" rather than None: the Matcher's NOT_IN predicate is False for None.
    Token.set_extension(CUE_ATTR, default="")
if not Token.has_extension(FAMILY_ATTR):
    # What the segmenter made the token for: url | number | amount | id | term ("" otherwise).
    Token.set_extension(FAMILY_ATTR, default="")


# ---------------------------------------------------------------------------------------
# The segmenter component.
# ---------------------------------------------------------------------------------------


class IndicatorSegmenter:
    """Re-segments a jieba Doc so that each piece of evidence is exactly one token."""

    def __init__(self, vocab, name: str = SEGMENTER, terms: Sequence[str] = (),
                 short_forced: Sequence[str] = ()) -> None:
        self.vocab = vocab
        self.name = name
        self.set_terms(terms, short_forced)

    def set_terms(self, terms: Sequence[str], short_forced: Sequence[str] = ()) -> None:
        self.terms = p._normalise_terms(terms)
        self.short_forced = sorted(set(short_forced))
        self._term_re = p.term_pattern(self.terms, self.short_forced)

    def candidates(self, text: str) -> List[p.Candidate]:
        return p.candidates(text, self._term_re)

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
                token._.set(CUE_ATTR, p.token_cue(text, token.idx, token.idx + len(token.text), family, cue))
        return doc

    # -- serialisation ----------------------------------------------------------------
    def _state(self) -> dict:
        return {"terms": self.terms, "short_forced": self.short_forced}

    def _restore(self, state) -> "IndicatorSegmenter":
        if isinstance(state, list):  # a pipeline built before short_forced was saved
            state = {"terms": state, "short_forced": []}
        self.set_terms(state["terms"], state.get("short_forced", []))
        return self

    def to_disk(self, path, exclude=tuple()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "terms.json").write_text(json.dumps(self._state(), ensure_ascii=False, indent=0), encoding="utf-8")

    def from_disk(self, path, exclude=tuple()) -> "IndicatorSegmenter":
        return self._restore(json.loads((Path(path) / "terms.json").read_text(encoding="utf-8")))

    def to_bytes(self, exclude=tuple()) -> bytes:
        return json.dumps(self._state(), ensure_ascii=False).encode("utf-8")

    def from_bytes(self, data: bytes, exclude=tuple()) -> "IndicatorSegmenter":
        return self._restore(json.loads(data.decode("utf-8")))


@Language.factory(SEGMENTER, default_config={})
def make_indicator_segmenter(nlp, name):  # no annotations: spaCy resolves them at runtime
    return IndicatorSegmenter(nlp.vocab, name)


# ---------------------------------------------------------------------------------------
# Ruler patterns.
# ---------------------------------------------------------------------------------------


def _tok(regex: str, family: str, cue=None) -> dict:
    """One candidate token of `family` whose text matches `regex` (and whose cue is `cue`)."""
    ext = {FAMILY_ATTR: family}
    if cue is not None:
        ext[CUE_ATTR] = cue
    return {"TEXT": {"REGEX": regex}, "_": ext}


def token_patterns(kb: KnowledgeBase, org_terms: Sequence[str]) -> List[dict]:
    patterns: List[dict] = []
    for label, regex, family, cue in p.TOKEN_RULES:
        patterns.append({"label": label, "pattern": [_tok(regex, family, p.spacy_cue(cue))]})
    # Place + organisation (+ 客服): 北京市公安局, 杭州市西湖区公安分局, 工商银行客服.
    lex = kb.lexicons
    place = {"TEXT": {"REGEX": p.PLACE_TOKEN, "NOT_IN": lex.not_places}}
    known_place = {"TEXT": {"IN": lex.place_names}}
    org = {"LOWER": {"IN": sorted({t.lower() for t in org_terms})}}
    suffix = {"TEXT": {"IN": lex.org_suffixes}, "OP": "?"}
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


def create_pipeline(kb: KnowledgeBase) -> Language:
    """A new pipeline from the KB's lexicons, banks and organisation keywords."""
    orgs, apps = p.lexicon_terms(kb)
    nlp = blank_zh()
    segmenter = cast(IndicatorSegmenter, nlp.add_pipe(SEGMENTER))
    segmenter.set_terms(p.segmenter_terms(kb), kb.lexicons.short_forced)
    ruler: Any = nlp.add_pipe(
        "entity_ruler",
        config={"phrase_matcher_attr": "LOWER", "validate": True, "overwrite_ents": True},
    )
    ruler.add_patterns(token_patterns(kb, orgs) + phrase_patterns(orgs, apps))
    nlp.meta.update(
        {
            "name": PIPELINE_NAME,
            "version": PIPELINE_VERSION,
            "description": "Indicator extraction for the anti-fraud assistant (jieba + segmenter + entity_ruler)",
            "labels": {"entity_ruler": list(p.KINDS)},
        }
    )
    return nlp


def build(out_dir: Path | str, kb: KnowledgeBase) -> Path:
    """Create the pipeline from the KB and save it with `nlp.to_disk`."""
    out = Path(out_dir)
    create_pipeline(kb).to_disk(out)
    return out


def load(path: Path | str) -> Language:
    return spacy.load(path)


# Texts whose indicators an extractor remembers: a self-check re-assesses its whole
# description on every answer, and the pipeline was a third of the action server's CPU.
REMEMBERED_TEXTS = 2048


class SpacyExtractor:
    """The verdict engine's extractor (`Extractor`) over a loaded pipeline; the result for
    a text is a function of the text alone, so the latest texts' are kept."""

    def __init__(self, nlp: Language, remembered: int = REMEMBERED_TEXTS) -> None:
        self.nlp = nlp
        self._seen: LRUCache = LRUCache(maxsize=remembered)
        self._seen_lock = threading.Lock()  # the gateway may call it from worker threads

    def __call__(self, text: str) -> List[Indicator]:
        if not text or not text.strip():
            return []
        with self._seen_lock:
            found = self._seen.get(text)
        if found is None:
            found = tuple(self._extract(text))
            with self._seen_lock:
                self._seen[text] = found
        return list(found)

    def _extract(self, text: str) -> List[Indicator]:
        norm = normalize(text)
        return [
            Indicator(ent.label_, written(text, norm, ent.start_char, ent.end_char), ent.start_char, ent.end_char)
            for ent in self.nlp(norm).ents
            if ent.label_ in INDICATOR_KINDS
        ]


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python -m bot.kb.extraction.spacy_pipeline OUT_DIR", file=sys.stderr)
        return 2
    try:
        kb = load_kb()
    except KnowledgeBaseError as err:
        print(f"cannot build the spaCy pipeline: {err}", file=sys.stderr)
        return 1
    out = build(argv[0], kb)
    nlp = load(out)
    ruler: Any = nlp.get_pipe("entity_ruler")
    print(f"spaCy pipeline: {out} ({len(ruler.patterns)} ruler patterns, pipes {nlp.pipe_names})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
