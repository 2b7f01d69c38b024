"""The verdict engine: from an NLU result (+ answers) to a `Verdict`.

Inputs are plain data so that the chat actions, the JSON API and the operator console
all get the same verdict for the same text:

- `text`: what the resident wrote (any script; normalised here);
- `ranking`: the scam-type classifier's probabilities (`scam_ranking` in Rasa's parse
  result); without it the knowledge base's red flags alone decide;
- `entities`: Rasa's entities for the text (indicators); when they hold none, `extractor`
  (the spaCy pipeline a process loads at start-up, bot.runtime) reads the text, or
  without one the pure-regex extractor;
- `answers`: diagnostic question id → True (是) / False (不是); unknown ids are ignored;
- `blocklist`: the process's block/allowlist (without one: the KB's official numbers).

How the type is chosen: the classifier's probability for each type is combined in
log-space with the weight of that type's red flags found in the text and of the
answers given, so a single decisive phrase ("安全账户") can overrule a weak classifier
while the classifier still decides when the text has no known red flag.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from bot.kb.blocklist import Blocklist, builtin_allowlist
from bot.kb.classifier import recalibrate
from bot.kb.extraction.entities import Extractor, indicators_from_entities
from bot.kb.extraction.red_flags import (
    OVERLAPS_WITH,
    indicator_advice,
    indicator_red_flags,
    merge_red_flags,
    with_list_status,
)
from bot.kb.extraction.regex_extractor import RegexExtractor
from bot.kb.loader import KnowledgeBase
from bot.kb.loss import LossSteps, loss_steps
from bot.kb.models import NON_SCAM_TYPES, Bank, DecisionConstants, Hotline, Question
from bot.kb.results import Indicator, RedFlagHit
from bot.kb.stage import DEFAULT_STAGE, URGENT_STAGES, StageModel, assess_stage, most_severe
from bot.kb.text import normalize

# How evidence is weighed is data: data/kb/decision.yml (`kb.decision`), chosen on own-data
# cross-validation and data/dev with `python -m bot.quality.evaluation --fast --tune`.
# DECISION: the defaults, for a KB without the file (the tests' small KB).
DECISION = DecisionConstants()
QUOTE_WINDOW = 18  # characters either side of a match when quoting the resident
# A quote never starts or ends inside a number, a code or a masked number ("6217***1357"):
# cut through, "6217***********1357" became "217***********1357", a different number.
# Such a run at the window's edge is quoted whole, or left out when longer than this.
MAX_QUOTED_RUN = 24
_RUN_CHAR = re.compile(r"[0-9A-Za-z*]")
_DIGIT_SEP = re.compile(r"[ \-]")  # inside a run between digits: "6217 **** 1357", "010-1234"
_DIGIT = re.compile(r"[0-9*]")
_CLAUSE_BREAK = re.compile(r"[。！？!?；;，,\n]")


@dataclass(frozen=True)
class HotlineAdvice:
    name: str
    number: Optional[str]
    when: str

    def to_api(self) -> dict:
        return {"name": self.name, "number": self.number, "when": self.when}


@dataclass
class Verdict:
    scam_type: str
    scam_name: str
    short_name: str
    risk_level: str
    confidence: float
    alternatives: List[Tuple[str, float]]
    red_flags: List[RedFlagHit]
    indicators: List[Indicator]
    advice: List[str]
    hotlines: List[HotlineAdvice]
    questions: List[Question]
    money_lost: bool = False  # exactly: stage == "paid"
    answers: Dict[str, bool] = field(default_factory=dict)
    # The banks the text names (their numbers go to the hotlines and the loss checklist).
    banks: List[Bank] = field(default_factory=list)
    # Question ids (of any type) the text already answers: a red flag they name was found.
    implied: List[str] = field(default_factory=list)
    # How far the scam got (bot.kb.stage.STAGES); `paid` and `credentials_given` are urgent.
    stage: str = DEFAULT_STAGE

    @property
    def urgent(self) -> bool:
        return self.stage in URGENT_STAGES

    def to_api(self) -> dict:
        """The `/api/v1/assess` response body (DESIGN contract)."""
        return {
            "scam_type": self.scam_type,
            "scam_name": self.scam_name,
            "risk_level": self.risk_level,
            "confidence": round(self.confidence, 4),
            "alternatives": [
                {"scam_type": t, "confidence": round(c, 4)} for t, c in self.alternatives
            ],
            "red_flags": [hit.to_api() for hit in self.red_flags],
            "indicators": [i.to_api() for i in self.indicators],
            "advice": list(self.advice),
            "hotlines": [h.to_api() for h in self.hotlines],
            "questions": [{"id": q.id, "text": q.text} for q in self.questions],
            "stage": self.stage,
            "money_lost": self.money_lost,
        }


# -- red flags -----------------------------------------------------------------


def _is_run(text: str, i: int) -> bool:
    if not 0 <= i < len(text):
        return False
    if _DIGIT_SEP.match(text[i]):
        return 0 < i < len(text) - 1 and bool(_DIGIT.match(text[i - 1]) and _DIGIT.match(text[i + 1]))
    return bool(_RUN_CHAR.match(text[i]))


def _left_bound(text: str, left: int, start: int) -> int:
    """The quote's left bound, moved off a number it would cut through."""
    if not (_is_run(text, left - 1) and _is_run(text, left)):
        return left
    outer, inner = left, left
    while _is_run(text, outer - 1):
        outer -= 1
    while inner < start and _is_run(text, inner):
        inner += 1
    return outer if inner - outer <= MAX_QUOTED_RUN else inner


def _right_bound(text: str, right: int, end: int) -> int:
    """The quote's right bound, moved off a number it would cut through."""
    if not (_is_run(text, right - 1) and _is_run(text, right)):
        return right
    outer, inner = right, right
    while _is_run(text, outer):
        outer += 1
    while inner > end and _is_run(text, inner - 1):
        inner -= 1
    return outer if outer - inner <= MAX_QUOTED_RUN else inner


def _quote(text: str, start: int, end: int) -> str:
    """The clause around a match, trimmed, so the resident recognises their own words."""
    left = _left_bound(text, max(0, start - QUOTE_WINDOW), start)
    right = _right_bound(text, min(len(text), end + QUOTE_WINDOW), end)
    before = _CLAUSE_BREAK.split(text[left:start])[-1]
    after = _CLAUSE_BREAK.split(text[end:right])[0]
    return (before + text[start:end] + after).strip()


Span = Tuple[int, int]


def _spans(patterns: Iterable[re.Pattern], norm: str) -> List[Span]:
    return [(m.start(), m.end()) for p in patterns for m in p.finditer(norm)]


def _inside(start: int, end: int, spans: Sequence[Span]) -> bool:
    return any(s <= start and end <= e for s, e in spans)


def warning_spans(kb: KnowledgeBase, norm: str) -> List[Span]:
    """Where the text warns against a scam ("凡是……都是诈骗", "公安机关不会……")."""
    return _spans(kb.compiled_warning_patterns, norm)


def _counted_match(pattern: re.Pattern, norm: str, excluded: Sequence[Span]) -> Optional[re.Match]:
    """The first match that is not inside an excluded (negated / warning) span."""
    for match in pattern.finditer(norm):
        if not _inside(match.start(), match.end(), excluded):
            return match
    return None


def find_red_flags(kb: KnowledgeBase, text: str) -> List[RedFlagHit]:
    """Every red flag of the KB whose patterns match the text, strongest first."""
    norm = normalize(text)
    return _red_flags_in(kb, text, norm, warning_spans(kb, norm))


def _red_flags_in(kb: KnowledgeBase, text: str, norm: str, warnings: Sequence[Span]) -> List[RedFlagHit]:
    # Quote the resident's own characters when normalising kept the offsets.
    quote_source = text if len(text) == len(norm) else norm
    hits = []
    for flag, owner, patterns in kb.compiled_flags:
        excluded: Optional[List[Span]] = None  # computed only when a pattern matches
        for pattern in patterns:
            if not pattern.search(norm):
                continue
            if excluded is None:
                excluded = list(warnings) + _spans(kb.compiled_flag_excludes[flag.id], norm)
            match = _counted_match(pattern, norm, excluded)
            if match:
                quote = _quote(quote_source, match.start(), match.end())
                hits.append(RedFlagHit(flag.id, flag.description, flag.weight, quote, owner))
                break
    return sorted(hits, key=lambda h: -h.weight)


def _money_lost_in(kb: KnowledgeBase, norm: str, warnings: Sequence[Span]) -> bool:
    """Money, a code or card details already went to the suspected scammer."""
    candidates = [p for p in kb.compiled_loss_patterns if p.search(norm)]
    if not candidates:
        return False
    excluded = list(warnings) + _spans(kb.compiled_loss_excludes, norm)
    return any(_counted_match(p, norm, excluded) for p in candidates)


# -- type ranking ----------------------------------------------------------------


def answer_weight(question: Question, yes: bool) -> float:
    """What one answer adds (a "no" counts half, the other way); `if_yes: lower` flips it."""
    direction = 1 if question.if_yes == "raise" else -1
    return (question.weight if yes else -question.weight / 2) * direction


def implied_questions(kb: KnowledgeBase, hit_ids: Iterable[str]) -> List[str]:
    """Question ids (of any type) the text already answers: it shows a red flag they name."""
    found = set(hit_ids)
    return [qid for qid, (_, q) in kb.questions.items() if found & set(q.red_flags)]


def _evidence_by_type(
    kb: KnowledgeBase, hits: Iterable[RedFlagHit], answers: Mapping[str, bool]
) -> Dict[str, float]:
    evidence: Dict[str, float] = {t: 0.0 for t in kb.scam_types}
    for hit in hits:
        if hit.scam_type:
            evidence[hit.scam_type] += hit.weight
    for qid, yes in answers.items():
        owner, question = kb.questions[qid]
        evidence[owner] += answer_weight(question, yes)
    return evidence


def rank_types(
    kb: KnowledgeBase,
    ranking: Optional[Mapping[str, float]],
    hits: Sequence[RedFlagHit],
    answers: Mapping[str, bool],
    constants: Optional[DecisionConstants] = None,
    reassured: int = 0,
    urgent: bool = False,
) -> List[Tuple[str, float]]:
    """Types by combined probability, best first (`constants`: the KB's decision.yml)."""
    constants = constants or kb.decision
    types = list(kb.scam_types)
    if ranking:
        ranking = recalibrate(ranking, constants.scam_threshold, constants.scam_slope)
        prior = {t: max(float(ranking.get(t, 0.0)), 1e-4) for t in types}
    else:
        # No classifier: every type equally likely, `none` favoured until a flag shows up.
        prior = {t: 1.0 for t in types}
        prior["none"] = float(len(types))
    evidence = _evidence_by_type(kb, hits, answers)
    total_flag_weight = sum(h.weight for h in hits)
    scores = {t: math.log(prior[t]) + constants.flag_evidence * evidence[t] for t in types}
    scores["none"] -= constants.none_penalty * total_flag_weight
    scores["none"] += constants.reassurance * min(reassured, constants.max_reassurances)
    if urgent:
        scores["none"] -= constants.stage_evidence
    top = max(scores.values())
    exp = {t: math.exp(s - top) for t, s in scores.items()}
    total = sum(exp.values())
    return sorted(((t, v / total) for t, v in exp.items()), key=lambda tv: -tv[1])


def _choose_type(
    ranked: List[Tuple[str, float]],
    hits: Sequence[RedFlagHit],
    confirmed_loss: bool,
    constants: DecisionConstants,
) -> Tuple[str, float]:
    best, confidence = ranked[0]
    if best == "none" and confirmed_loss:
        # The resident said so ("我已经转账了"): never "nothing found".
        return "unknown", 1.0 - confidence
    if best not in NON_SCAM_TYPES and confidence < constants.min_type_confidence and hits:
        return "unknown", confidence
    if best == "none" and any(h.weight >= constants.decisive_flag_weight for h in hits):
        # A decisive red flag (验证码, 安全账户 …) never ends as "nothing found".
        return "unknown", 1.0 - confidence
    return best, confidence


def decide_type(
    kb: KnowledgeBase,
    ranking: Optional[Mapping[str, float]],
    hits: Sequence[RedFlagHit],
    answers: Mapping[str, bool],
    urgent: bool,
    constants: Optional[DecisionConstants] = None,
    reassured: int = 0,
    confirmed_loss: bool = False,
) -> Tuple[str, float, List[Tuple[str, float]]]:
    """(type, confidence, all types ranked): the one decision rule, also used for tuning.

    `urgent`: the loss stage is paid / credentials_given (evidence against `none`, weighed by
    `stage_evidence` against the classifier); `confirmed_loss`: the resident confirmed money
    went. Both override `none` when there is no classifier ranking (the KB alone, degraded
    mode): nothing else could tell a loss from a legitimate payment then."""
    constants = constants or kb.decision
    confirmed_loss = confirmed_loss or (urgent and not ranking)
    ranked = rank_types(kb, ranking, hits, answers, constants, reassured, urgent)
    scam_type, confidence = _choose_type(ranked, hits, confirmed_loss, constants)
    return scam_type, confidence, ranked


@dataclass
class TextEvidence:
    """What the text itself shows, before the classifier's ranking is weighed in."""

    norm: str
    indicators: List[Indicator]
    hits: List[RedFlagHit]
    money_lost: bool
    # How many reassurance spans (common.yml) the text holds.
    reassured: int = 0


_regex_extractors: Dict[int, RegexExtractor] = {}


def default_extractor(kb: KnowledgeBase) -> Extractor:
    """The pure-regex extractor for `kb`, when a caller hands in none (made once per KB)."""
    if id(kb) not in _regex_extractors:
        _regex_extractors[id(kb)] = RegexExtractor(kb)
    return _regex_extractors[id(kb)]


def text_evidence(
    kb: KnowledgeBase,
    text: str,
    entities: Optional[Sequence[Mapping]] = None,
    blocklist: Optional[Blocklist] = None,
    extractor: Optional[Extractor] = None,
) -> TextEvidence:
    # Rasa's entities come from the same spaCy pipeline; without any, the text is
    # extracted here (inside indicators_from_entities), once.
    extract = extractor if extractor is not None else default_extractor(kb)
    store = blocklist if blocklist is not None else builtin_allowlist(kb)
    indicators = with_list_status(indicators_from_entities(entities or [], text, extract), store)
    norm = normalize(text)
    warnings = warning_spans(kb, norm)
    # Indicators named inside a warning ("陌生人让您下载腾讯会议……都是诈骗") raise no flag.
    flagged = [i for i in indicators if not _inside(i.start, i.end, warnings)]
    hits = merge_red_flags(
        _red_flags_in(kb, text, norm, warnings), indicator_red_flags(flagged, kb, store, text=norm)
    )
    reassured = sum(1 for p in kb.compiled_reassurance_patterns if p.search(norm))
    return TextEvidence(norm, indicators, hits, _money_lost_in(kb, norm, warnings), reassured)


# -- risk --------------------------------------------------------------------------


def _answer_points(kb: KnowledgeBase, answers: Mapping[str, bool], implied: Iterable[str]) -> float:
    points = 0.0
    for qid, yes in answers.items():
        if qid in implied:
            continue  # already counted through the red flag that implies it
        points += answer_weight(kb.questions[qid][1], yes)
    return points


def _always_high(kb: KnowledgeBase, hits: Iterable[RedFlagHit]) -> bool:
    """A code, card number with password or screen sharing was asked for (`always_high` flags;
    an indicator flag counts as the text flag it duplicates)."""
    return any(OVERLAPS_WITH.get(h.id, h.id) in kb.always_high_flags for h in hits)


def _risk_level(
    kb: KnowledgeBase, points: float, scam_type: str, urgent: bool, always_high: bool = False
) -> str:
    """Points (the type's base + red flags + answers) → level, thresholds in decision.yml."""
    if scam_type == "none":
        return "low"
    if urgent or always_high or points >= kb.decision.risk.high_at:
        return "high"
    if points >= kb.decision.risk.medium_at:
        return "medium"
    return "low"


# -- advice and referrals -----------------------------------------------------------


def _advice(kb: KnowledgeBase, verdict: Verdict) -> List[str]:
    return advice_for(kb, verdict.scam_type, loss_steps(kb, verdict))


def advice_for(kb: KnowledgeBase, scam_type: str, steps: LossSteps) -> List[str]:
    """A verdict's "现在就做": the loss checklist's lines, then the type's own advice
    (also what a shared verdict shows, bot.kb.share, rebuilt from the type and the stage)."""
    scam = kb.scam_types[scam_type]
    lines: List[str] = steps.lines
    if scam_type == "none":
        lines += list(kb.common.safe_advice)
    elif scam_type == "unknown":
        lines += list(kb.common.general_advice)
    lines += scam.advice.do_now + scam.advice.never
    if scam.verify_tip:
        lines.append(scam.verify_tip)
    return list(dict.fromkeys(lines))  # keep order, drop repeats


def hotlines_for(kb: KnowledgeBase, scam_type: str, banks: Sequence[Bank], urgent: bool) -> List[HotlineAdvice]:
    """The numbers a verdict of this type gives (110/96110 first when money or codes went)."""
    ids = list(kb.scam_types[scam_type].hotlines)
    if urgent:
        ids = ["police_110", "antifraud_96110"] + ids
    chosen: List[Hotline] = [kb.hotlines[i] for i in dict.fromkeys(ids) if i in kb.hotlines]
    advice = [HotlineAdvice(h.name, h.number, h.when) for h in chosen]
    for bank in banks:
        when = "钱或验证码已经给出去：马上打，要求止付、冻结" if urgent else "核实账户情况，只打官方客服电话"
        advice.append(HotlineAdvice(f"{bank.name}客服", bank.number, when))
    return advice


def _remaining_questions(
    kb: KnowledgeBase, scam_type: str, answered: Iterable[str], implied: Iterable[str]
) -> List[Question]:
    """The type's questions neither answered nor already answered by the description."""
    skip = set(answered) | set(implied)
    return [q for q in kb.scam_types[scam_type].questions if q.id not in skip]


# -- loss stage ---------------------------------------------------------------------------


def model_applies(kb: KnowledgeBase, stage_model: Optional[StageModel]) -> bool:
    """A model only means something with the scopes and signals it was trained with: a KB
    without stages.yml (the tests' small KB) is judged by its rules."""
    return stage_model is not None and bool(kb.stage_rules.signals)


def text_stage(
    kb: KnowledgeBase, text: str, stage_model: Optional[StageModel] = None, rules_say_lost: Optional[bool] = None
) -> str:
    """The loss stage one text shows.

    With the trained model it decides alone: the KB's stage signals are among its features.
    Without it (a process that could not load build/stage_model.json; the unit tests' small
    KBs) the rules decide: the stage signals of stages.yml, and common.yml's loss patterns
    (with their exclusions for bills and hypotheses) as evidence of `paid` when no signal
    says more."""
    model = stage_model if model_applies(kb, stage_model) else None
    result = assess_stage(text, kb.stage_rules, model)
    if model is not None:
        return result.stage
    if rules_say_lost is None:
        norm = normalize(text)
        rules_say_lost = _money_lost_in(kb, norm, warning_spans(kb, norm))
    if rules_say_lost:
        return result.stage if result.stage == "credentials_given" else "paid"
    # The loss patterns know bills and hypotheses ("水电费交了", "如果已经转了"); a bare
    # signal of `paid` they do not confirm is not enough on its own.
    return DEFAULT_STAGE if result.stage == "paid" else result.stage


# -- entry point ------------------------------------------------------------------------


def assess(
    kb: KnowledgeBase,
    text: str,
    ranking: Optional[Mapping[str, float]] = None,
    entities: Optional[Sequence[Mapping]] = None,
    answers: Optional[Mapping[str, bool]] = None,
    money_lost: Optional[bool] = None,
    blocklist: Optional[Blocklist] = None,
    extractor: Optional[Extractor] = None,
    stage: Optional[str] = None,
    stage_model: Optional[StageModel] = None,
) -> Verdict:
    """Assess `text`.

    `stage` overrides the loss stage the text shows (the chat combines its turns and answers,
    actions.state); `money_lost=True` raises it to `paid` (the resident pressed "我已经转账了").
    Otherwise the stage is `stage_model`'s (loaded at start-up by bot.runtime.context), or,
    without one, the KB's rules (`text_stage`)."""
    answers = {q: bool(a) for q, a in (answers or {}).items() if q in kb.questions}
    store = blocklist if blocklist is not None else builtin_allowlist(kb)
    evidence = text_evidence(kb, text, entities, store, extractor)
    norm, indicators, hits = evidence.norm, evidence.indicators, evidence.hits
    if stage is None:
        stage = text_stage(kb, text, stage_model, evidence.money_lost)
    if money_lost:
        stage = most_severe([stage, "paid"])
    scam_type, confidence, ranked = decide_type(
        kb, ranking, hits, answers, stage in URGENT_STAGES, reassured=evidence.reassured,
        confirmed_loss=bool(money_lost),
    )
    if scam_type == "none":
        # No scam in sight: a payment or a code the text mentions went to a real payee
        # (AA 饭钱、物业前台、银行自己的验证码) — nothing to stop, no urgent steps.
        stage = DEFAULT_STAGE
    lost = stage == "paid"
    urgent = stage in URGENT_STAGES
    scam = kb.scam_types[scam_type]
    implied = implied_questions(kb, (h.id for h in hits))
    # Only the chosen type's implied questions stand in for their answers.
    own_implied = {q.id for q in scam.questions} & set(implied)
    answered_flags = [
        RedFlagHit(q.id, f"您确认了：{q.text}", q.weight, "是", scam_type, "answer")
        for q in scam.questions
        if answers.get(q.id) is True and q.if_yes == "raise" and q.id not in own_implied
    ]
    points = (
        kb.decision.risk.base[scam.base_risk]
        + sum(h.weight for h in hits)
        + _answer_points(kb, answers, own_implied)
    )
    banks = kb.banks_named_in(norm)
    alternatives = [(t, c) for t, c in ranked if t != scam_type and c >= 0.05][:3]
    verdict = Verdict(
        scam_type=scam_type,
        scam_name=scam.name,
        short_name=scam.short_name,
        risk_level=_risk_level(kb, points, scam_type, urgent, _always_high(kb, hits)),
        confidence=confidence,
        alternatives=alternatives,
        red_flags=hits + answered_flags,
        indicators=indicators,
        advice=[],
        hotlines=hotlines_for(kb, scam_type, banks, urgent),
        questions=_remaining_questions(kb, scam_type, answers, implied),
        money_lost=lost,
        answers=answers,
        banks=banks,
        implied=implied,
        stage=stage,
    )
    # The advice starts with the loss checklist, which is chosen from the verdict itself.
    verdict.advice = list(dict.fromkeys(_advice(kb, verdict) + indicator_advice(indicators, kb, store)))
    return verdict
