"""The urgent checklist: what to do once money, a code or card details went to a scammer,
or while the scammer is still on the line.

`loss_steps(kb, verdict)` is the one rule, driven by the verdict's loss stage
(bot.kb.stage): whether steps apply, which ones, in which order, with the named bank's own
number (or the "bank unknown" line). The chat's urgent message (first, before any
question), the verdict's advice, the operator console and the WeChat reply only render its
`LossSteps`; the wording is data (common.yml `loss_checklist`).

- `paid`: 110/96110, the bank (stop the payment), keep the evidence, never pay "recovery";
- `credentials_given`: the same, with freezing the account / changing the password and
  removing the scammer's app right after the bank;
- `on_the_call`: only "先挂断，先别操作" — nothing went yet, the rest of the check follows;
- `asked_to_pay`, `not_engaged`: no steps.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, List, Sequence, Tuple

from bot.kb.loader import KnowledgeBase
from bot.kb.models import Bank, LossStep, LossStepKind
from bot.kb.stage import DEFAULT_STAGE, URGENT_STAGES

if TYPE_CHECKING:  # pragma: no cover
    from bot.kb.verdict import Verdict

# The steps that lead the verdict's "现在就做" when money is gone: call the police, call the bank.
URGENT_STEPS = ("police", "bank")
# Which checklist steps each stage gets, in order (the texts are data; the order is the rule).
STEPS_BY_STAGE: Dict[str, Tuple[LossStepKind, ...]] = {
    "paid": ("police", "bank", "evidence", "recovery_warning"),
    "credentials_given": ("police", "bank", "credentials", "remote_app", "evidence", "recovery_warning"),
    "on_the_call": ("hang_up",),
}


@dataclass(frozen=True)
class LossSteps:
    """The urgent checklist for one verdict; empty (falsy) when the stage needs none."""

    stage: str = DEFAULT_STAGE
    steps: Tuple[LossStep, ...] = ()  # residents' lines, in order
    banks: Tuple[Bank, ...] = ()  # the banks the text names; none: the "bank unknown" line
    # the operator's words (console)
    title: str = ""
    police: str = ""
    bank_lines: Tuple[str, ...] = ()  # bank_named for each bank named, else (bank_unknown,)
    evidence_title: str = ""
    evidence: Tuple[str, ...] = field(default_factory=tuple)
    recovery_warning: str = ""

    def __bool__(self) -> bool:
        return bool(self.steps)

    @property
    def urgent(self) -> bool:
        """Money or credentials went out: 110 and the bank come before anything else."""
        return self.stage in URGENT_STAGES and bool(self.steps)

    @property
    def lines(self) -> List[str]:
        """The residents' lines, in order."""
        return [s.text for s in self.steps]

    @property
    def urgent_lines(self) -> List[str]:
        return [s.text for s in self.steps if s.step in URGENT_STEPS]

    def lead(self, advice: Sequence[str]) -> List[str]:
        """`advice` (a verdict's) with the urgent steps first and the rest of the checklist
        left out: it went out in the urgent message already, the type's advice gets the room."""
        if not self:
            return list(advice)
        rest = [a for a in advice if a not in self.lines]
        return self.urgent_lines + rest


def steps_for_stage(kb: KnowledgeBase, stage: str, banks: Sequence[Bank]) -> LossSteps:
    kinds = STEPS_BY_STAGE.get(stage, ())
    if not kinds:
        return LossSteps(stage=stage)
    copy = kb.common.loss_checklist
    by_kind = {s.step: s for s in copy.for_residents}
    steps = tuple(by_kind[k] for k in kinds if k in by_kind)
    if stage not in URGENT_STAGES:
        return LossSteps(stage=stage, steps=steps, title=copy.hang_up)
    bank_lines = [copy.bank_named.format(bank=b.name, number=b.number) for b in banks] or [copy.bank_unknown]
    return LossSteps(
        stage=stage,
        steps=steps,
        banks=tuple(banks),
        title=copy.title if stage == "paid" else copy.title_credentials,
        police=copy.police,
        bank_lines=tuple(bank_lines),
        evidence_title=copy.evidence_title,
        evidence=tuple(copy.evidence),
        recovery_warning=copy.recovery_warning,
    )


def loss_steps(kb: KnowledgeBase, verdict: "Verdict") -> LossSteps:
    """The steps for this verdict's loss stage (verdict.stage), the named banks' numbers in."""
    return steps_for_stage(kb, verdict.stage, verdict.banks)
