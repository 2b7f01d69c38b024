"""Turns bot.kb results into chat messages (plain text, one action per line)."""
from __future__ import annotations

from typing import Iterable, List, Optional, Sequence

from rasa_sdk.executor import CollectingDispatcher

from actions import texts
from bot.kb import KnowledgeBase, LossSteps, Verdict, loss_steps
from bot.kb.models import NON_SCAM_TYPES, Question
from bot.kb.wording import flag_line, risk_label

MAX_FLAGS = 4
MAX_ADVICE = 5
MAX_HOTLINES = 5


def hotline_line(name: str, number: Optional[str], when: str) -> str:
    if number:
        return texts.HOTLINE_LINE.format(name=name, number=number, when=when)
    return texts.APP_LINE.format(name=name, when=when)


def _why_lines(kb: KnowledgeBase, verdict: Verdict) -> List[str]:
    """One line per red flag, strongest first; one line per quote (the strongest flag)."""
    lines: List[str] = []
    quotes = set()
    for hit in verdict.red_flags:
        if len(lines) >= MAX_FLAGS:
            break
        if hit.source == "answer" and hit.id in kb.questions:
            question = kb.questions[hit.id][1]
            lines.append(texts.ANSWER_FLAG_LINE.format(question=question.text.rstrip("？?")))
        elif hit.quote:
            if hit.quote in quotes:
                continue
            quotes.add(hit.quote)
            lines.append(flag_line(hit.quote, hit.description))
        else:
            lines.append(flag_line("", hit.description))
    if not lines:
        if verdict.scam_type == "none":
            lines.append(texts.NONE_WHY_LINE)
        elif verdict.scam_type == "unknown":
            lines.append(texts.UNKNOWN_WHY_LINE)
        else:
            lines.append(texts.CLASSIFIER_ONLY_LINE.format(short_name=verdict.short_name))
    return lines


def advice_lines(kb: KnowledgeBase, verdict: Verdict) -> List[str]:
    return loss_steps(kb, verdict).lead(verdict.advice)[:MAX_ADVICE]


def verdict_text(kb: KnowledgeBase, verdict: Verdict, reminder: Optional[str] = None) -> str:
    """The verdict card as text: risk and type first; why; what to do now; whom to call.
    `reminder`: the urgent reminder line that leads it (actions.selfcheck.urgent_first)."""
    lines: List[str] = [reminder] if reminder else []
    lines.append(f"{risk_label(verdict.risk_level)} · {verdict.scam_name}")
    lines.append(texts.WHY)
    lines.extend(_why_lines(kb, verdict))
    lines.append(texts.DO_NOW)
    lines.extend(f"{i}. {a}" for i, a in enumerate(advice_lines(kb, verdict), start=1))
    for hotline in verdict.hotlines[:MAX_HOTLINES]:
        lines.append(hotline_line(hotline.name, hotline.number, hotline.when))
    return "\n".join(lines)


def send_verdict(
    dispatcher: CollectingDispatcher, kb: KnowledgeBase, verdict: Verdict, reminder: Optional[str] = None
) -> None:
    dispatcher.utter_message(text=verdict_text(kb, verdict, reminder))
    dispatcher.utter_message(json_message={"verdict": verdict.to_api()})
    dispatcher.utter_message(text=texts.AFTER_VERDICT, buttons=texts.AFTER_VERDICT_BUTTONS)


def send_question(
    dispatcher: CollectingDispatcher, question: Question, intro: Optional[str] = None
) -> None:
    if intro:
        dispatcher.utter_message(text=intro)
    dispatcher.utter_message(text=question.text, buttons=texts.ANSWER_BUTTONS)


def urgent_lines(steps: LossSteps) -> List[str]:
    """bot.kb.loss_steps as every channel shows it (LossSteps.message_lines)."""
    return steps.message_lines()


def reminder_line(steps: LossSteps) -> str:
    """The line that leads a later turn once the urgent steps were given (and, when the
    resident named their bank, that bank's number under it)."""
    line = texts.REMINDER_BY_STAGE.get(steps.stage, texts.MONEY_LOST_FIRST_LINE)
    return "\n".join([line, *(texts.PHONE_MARK + b for b in steps.bank_lines if steps.banks)])


def send_urgent(dispatcher: CollectingDispatcher, steps: LossSteps, offer_to_continue: bool = False) -> None:
    dispatcher.utter_message(text="\n".join(urgent_lines(steps)))
    if offer_to_continue and steps.urgent:
        dispatcher.utter_message(text=texts.AFTER_LOSS, buttons=texts.AFTER_LOSS_BUTTONS)


def bullet(lines: Iterable[str], limit: int) -> List[str]:
    return [f"·{line}" for line in list(lines)[:limit]]


def is_scam_type(type_id: Optional[str]) -> bool:
    return bool(type_id) and type_id not in NON_SCAM_TYPES


def intro_for(verdict: Verdict, remaining: Sequence[Question], changed: bool) -> str:
    # 「养老诈骗」, not 「养老诈骗」诈骗
    suffix = "" if verdict.short_name.endswith(("诈骗", "骗局")) else "诈骗"
    if changed:
        template = texts.INTRO_CHANGED
    else:
        template = texts.INTRO_ONE if len(remaining) == 1 else texts.INTRO_MANY
    return template.format(short_name=verdict.short_name, scam=suffix)
