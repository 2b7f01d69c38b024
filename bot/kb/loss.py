"""The loss checklist: what to do once money, a code or card details went to a scammer.

`loss_steps(kb, verdict)` is the one rule: whether the steps apply, which ones, in which
order, with the named bank's own number (or the "bank unknown" line). The chat's urgent
message, the verdict's advice and text, and the operator console only render its
`LossSteps`; the wording is data (common.yml `loss_checklist`).

This is where the loss stage (issue 11: not_engaged / asked_to_pay / paid /
credentials_given / on_the_call) plugs in: a stage on the Verdict chooses the steps here
(`credentials_given` leads with the `credentials` step, `on_the_call` with hanging up and
`remote_app` …), and every channel follows without a change of its own.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, List, Sequence, Tuple

from bot.kb.loader import KnowledgeBase
from bot.kb.models import Bank, LossStep

if TYPE_CHECKING:  # pragma: no cover
    from bot.kb.verdict import Verdict

# The steps that lead the verdict's "现在就做" when money is gone: call the police, call the bank.
URGENT_STEPS = ("police", "bank")


@dataclass(frozen=True)
class LossSteps:
    """The urgent checklist for one verdict; empty (falsy) when nothing was lost."""

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


def _steps_for(kb: KnowledgeBase, money_lost: bool, banks: Sequence[Bank]) -> LossSteps:
    if not money_lost:
        return LossSteps()
    copy = kb.common.loss_checklist
    bank_lines = [copy.bank_named.format(bank=b.name, number=b.number) for b in banks] or [copy.bank_unknown]
    return LossSteps(
        steps=tuple(copy.for_residents),
        banks=tuple(banks),
        title=copy.title,
        police=copy.police,
        bank_lines=tuple(bank_lines),
        evidence_title=copy.evidence_title,
        evidence=tuple(copy.evidence),
        recovery_warning=copy.recovery_warning,
    )


def loss_steps(kb: KnowledgeBase, verdict: "Verdict") -> LossSteps:
    """The steps for this verdict: all of them once money is gone (verdict.money_lost)."""
    return _steps_for(kb, verdict.money_lost, verdict.banks)
