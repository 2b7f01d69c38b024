"""Load and validate the knowledge base in data/kb/.

Every problem is reported as `<file>: <field path>: <message>` so that a broken KB fails
loudly and says where to look.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Dict, FrozenSet, List, Optional, Tuple, Type

from bot.kb.models import (
    NON_SCAM_TYPES,
    Bank,
    CommonFile,
    DecisionConstants,
    FaqFile,
    Hotline,
    HotlinesFile,
    LexiconsFile,
    OtherNumber,
    Question,
    RedFlag,
    ScamType,
)
from bot.kb.stage import StageRules
from bot.kb.yaml_io import Model, load_yaml_model

DEFAULT_KB_DIR = Path(__file__).resolve().parents[2] / "data" / "kb"


class KnowledgeBaseError(ValueError):
    """The knowledge base is invalid; the message names the file and the field."""


def _load_file(path: Path, model: Type[Model]) -> Model:
    return load_yaml_model(path, model, KnowledgeBaseError)


@dataclass(frozen=True)
class KnowledgeBase:
    scam_types: Dict[str, ScamType]
    hotlines: Dict[str, Hotline]
    banks: List[Bank]
    common: CommonFile
    lexicons: LexiconsFile
    faq: FaqFile
    other_numbers: List[OtherNumber] = field(default_factory=list)
    # data/kb/stages.yml: the loss stage's scopes and signals (a KB without it: none).
    stage_rules: StageRules = field(default_factory=StageRules)
    # data/kb/decision.yml: how evidence is weighed (a KB without it: the model's defaults).
    decision: DecisionConstants = field(default_factory=lambda: DecisionConstants())
    source_files: Dict[str, Path] = field(default_factory=dict)

    # -- look-ups ---------------------------------------------------------
    @property
    def scam_type_ids(self) -> List[str]:
        """Ids of real scam types (without `none` and `unknown`)."""
        return [t for t in self.scam_types if t not in NON_SCAM_TYPES]

    @cached_property
    def red_flags(self) -> Dict[str, Tuple[Optional[str], RedFlag]]:
        """Every red flag by id, with the scam type it belongs to (None when shared)."""
        flags: Dict[str, Tuple[Optional[str], RedFlag]] = {
            flag.id: (None, flag) for flag in self.common.red_flags
        }
        for scam in self.scam_types.values():
            flags.update({flag.id: (scam.id, flag) for flag in scam.red_flags})
        return flags

    @cached_property
    def questions(self) -> Dict[str, Tuple[str, Question]]:
        return {
            question.id: (scam.id, question)
            for scam in self.scam_types.values()
            for question in scam.questions
        }

    @cached_property
    def compiled_flags(self) -> List[Tuple[RedFlag, Optional[str], List[re.Pattern]]]:
        return [
            (flag, owner, [re.compile(p, re.IGNORECASE) for p in flag.patterns])
            for flag_id, (owner, flag) in self.red_flags.items()
        ]

    @cached_property
    def compiled_flag_excludes(self) -> Dict[str, List[re.Pattern]]:
        """Per red flag id: its own exclude_patterns (common warning_patterns are separate)."""
        return {
            flag_id: [re.compile(p, re.IGNORECASE) for p in flag.exclude_patterns]
            for flag_id, (_, flag) in self.red_flags.items()
        }

    @cached_property
    def compiled_warning_patterns(self) -> List[re.Pattern]:
        """Warning spans and reassurance spans (common.yml): nothing inside them counts."""
        patterns = self.common.warning_patterns + self.common.reassurance_patterns
        return [re.compile(p, re.IGNORECASE) for p in patterns]

    @cached_property
    def compiled_reassurance_patterns(self) -> List[re.Pattern]:
        return [re.compile(p, re.IGNORECASE) for p in self.common.reassurance_patterns]

    @cached_property
    def always_high_flags(self) -> FrozenSet[str]:
        """Ids of the red flags that make the risk high whatever the type (`always_high`)."""
        return frozenset(flag_id for flag_id, (_, flag) in self.red_flags.items() if flag.always_high)

    @cached_property
    def compiled_loss_patterns(self) -> List[re.Pattern]:
        return [re.compile(p) for p in self.common.loss_patterns]

    @cached_property
    def compiled_loss_excludes(self) -> List[re.Pattern]:
        return [re.compile(p, re.IGNORECASE) for p in self.common.loss_exclude_patterns]

    def flags_of(self, type_id: str) -> List[RedFlag]:
        scam = self.scam_types[type_id]
        return list(scam.red_flags) + [self.red_flags[i][1] for i in scam.common_red_flags]

    def banks_named_in(self, text: str) -> List[Bank]:
        """The banks a (normalised) text names: the one rule for "which bank was named"."""
        return [b for b in self.banks if any(n in text for n in [b.name, *b.aliases])]

    @cached_property
    def police_words(self) -> re.Pattern:
        """An organisation named in the text that claims to be the police (lexicons.yml)."""
        return re.compile("|".join(map(re.escape, self.lexicons.police_words)))

    @cached_property
    def bank_words(self) -> re.Pattern:
        return re.compile("|".join(map(re.escape, self.lexicons.bank_words)))

    @cached_property
    def brands(self) -> List[Tuple[str, str, Tuple[str, ...], bool]]:
        """(key, name, official domains, imitated?) of lexicons.yml, bank names resolved."""
        bank_names = {b.id: b.name for b in self.banks}
        return [
            (b.key, b.name or bank_names[b.bank or ""], tuple(b.domains), b.lookalikes)
            for b in self.lexicons.brands
        ]

    def official_numbers(self, with_other_numbers: bool = True) -> Dict[str, str]:
        """Every number the KB knows as official → whose it is (the allowlist's built-ins).

        `with_other_numbers` False leaves out 120, 119 … (hotlines.yml `other_numbers`):
        for finding numbers in free text, where "120元" is an amount.
        """
        numbers = {n.number: n.name for n in self.other_numbers} if with_other_numbers else {}
        numbers.update({h.number: h.name for h in self.hotlines.values() if h.number})
        numbers.update({b.number: f"{b.name}客服" for b in self.banks})
        return numbers

    def vocabulary(self) -> List[str]:
        """Domain terms for the jieba user dictionary."""
        words = set()
        for scam in self.scam_types.values():
            words.update(scam.keywords)
            words.update(scam.aliases)
            words.add(scam.short_name)
        for bank in self.banks:
            words.update([bank.name, *bank.aliases])
        return sorted(w for w in words if w and " " not in w)


def _check_references(kb: KnowledgeBase) -> None:
    """Unique ids across the KB and every cross-reference resolves."""
    seen: Dict[str, str] = {}

    def claim(kind: str, item_id: str, where: str) -> None:
        if item_id in seen:
            raise KnowledgeBaseError(
                f"{where}: {kind} id {item_id!r} is already used in {seen[item_id]}"
            )
        seen[item_id] = where

    for flag in kb.common.red_flags:
        claim("red flag", flag.id, f"{kb.source_files['common']}: red_flags")
    for type_id, scam in kb.scam_types.items():
        src = kb.source_files[type_id]
        for i, flag in enumerate(scam.red_flags):
            claim("red flag", flag.id, f"{src}: red_flags.{i}.id")
        own_and_common = {f.id for f in scam.red_flags} | set(scam.common_red_flags)
        for i, question in enumerate(scam.questions):
            claim("question", question.id, f"{src}: questions.{i}.id")
            for ref in question.red_flags:
                if ref not in own_and_common:
                    raise KnowledgeBaseError(
                        f"{src}: questions.{i}.red_flags: unknown red flag {ref!r} "
                        f"(not among this type's red_flags or common_red_flags)"
                    )
        common_ids = {f.id for f in kb.common.red_flags}
        for i, ref in enumerate(scam.common_red_flags):
            if ref not in common_ids:
                raise KnowledgeBaseError(
                    f"{src}: common_red_flags.{i}: unknown common red flag {ref!r}"
                )
        for i, ref in enumerate(scam.hotlines):
            if ref not in kb.hotlines:
                raise KnowledgeBaseError(f"{src}: hotlines.{i}: unknown hotline {ref!r}")
    bank_ids = {b.id for b in kb.banks}
    for i, brand in enumerate(kb.lexicons.brands):
        if brand.bank is not None and brand.bank not in bank_ids:
            raise KnowledgeBaseError(
                f"{kb.source_files['lexicons']}: brands.{i}.bank: unknown bank {brand.bank!r} "
                f"(not among the banks of {kb.source_files['hotlines']})"
            )


def load_kb(kb_dir: Path | str = DEFAULT_KB_DIR) -> KnowledgeBase:
    kb_dir = Path(kb_dir)
    hotlines_path, common_path = kb_dir / "hotlines.yml", kb_dir / "common.yml"
    lexicons_path, faq_path = kb_dir / "lexicons.yml", kb_dir / "faq.yml"
    hotlines_file = _load_file(hotlines_path, HotlinesFile)
    common = _load_file(common_path, CommonFile)
    lexicons = _load_file(lexicons_path, LexiconsFile)
    faq = _load_file(faq_path, FaqFile)
    stages_path = kb_dir / "stages.yml"
    stage_rules = _load_file(stages_path, StageRules) if stages_path.exists() else StageRules()
    scam_types: Dict[str, ScamType] = {}
    sources: Dict[str, Path] = {
        "common": common_path, "hotlines": hotlines_path, "lexicons": lexicons_path, "faq": faq_path,
    }
    if stages_path.exists():
        sources["stages"] = stages_path
    decision_path = kb_dir / "decision.yml"
    decision = _load_file(decision_path, DecisionConstants) if decision_path.exists() else DecisionConstants()
    if decision_path.exists():
        sources["decision"] = decision_path
    type_files = sorted((kb_dir / "scam_types").glob("*.yml"))
    if not type_files:
        raise KnowledgeBaseError(f"{kb_dir / 'scam_types'}: no scam type files found")
    for path in type_files:
        scam = _load_file(path, ScamType)
        if scam.id != path.stem:
            raise KnowledgeBaseError(f"{path}: id: {scam.id!r} must match the file name {path.stem!r}")
        scam_types[scam.id] = scam
        sources[scam.id] = path
    for required in NON_SCAM_TYPES:
        if required not in scam_types:
            raise KnowledgeBaseError(f"{kb_dir / 'scam_types'}: missing required type file {required}.yml")
    hotline_ids = [h.id for h in hotlines_file.hotlines]
    duplicates = {i for i in hotline_ids if hotline_ids.count(i) > 1}
    if duplicates:
        raise KnowledgeBaseError(f"{hotlines_path}: hotlines: duplicate id(s) {sorted(duplicates)}")
    kb = KnowledgeBase(
        scam_types=scam_types,
        hotlines={h.id: h for h in hotlines_file.hotlines},
        banks=list(hotlines_file.banks),
        common=common,
        lexicons=lexicons,
        faq=faq,
        other_numbers=list(hotlines_file.other_numbers),
        stage_rules=stage_rules,
        decision=decision,
        source_files=sources,
    )
    _check_references(kb)
    return kb
