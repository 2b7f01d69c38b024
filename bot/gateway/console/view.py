"""The desk's view of a verdict: what the panel shows, built from one Verdict (decides nothing).

The page builds the read-only mirror of the notes with textContent, never HTML.
"""
from __future__ import annotations

from typing import Any, Dict, List
from urllib.parse import urlsplit

from aiohttp import web

from bot.gateway.errors import ApiError
from bot.kb import RISK_LABELS, KnowledgeBase, LossSteps, loss_steps
from bot.kb.verdict import Verdict

CHANNEL_LABELS = {
    "phone": "电话", "walk_in": "来访", "wechat": "微信", "widget": "网页自查", "api": "接口", "other": "其他",
}
ANSWER_LABELS = {True: "是", False: "不是", None: "不确定"}
INDICATOR_LABELS = {
    "phone": "电话号码", "url": "链接", "bank_card": "银行卡号/账号", "id_number": "身份证号", "amount": "金额",
    "qq": "QQ号", "wechat_id": "微信号", "app": "App/软件", "organization": "单位/机构",
}


def check_same_origin(request: web.Request) -> None:
    """Websocket and JSON posts only from our own pages (the session cookie is SameSite too)."""
    origin = request.headers.get("Origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.host:
        raise ApiError(403, "cross-site request refused")


def nav_context(request: web.Request, active: str) -> Dict[str, Any]:
    return {"operator": request["operator"], "active": active}


def mirror_segments(notes: str, verdict: Verdict) -> List[Dict[str, Any]]:
    """The notes cut into segments; those quoted by a red flag or naming an indicator are marked.

    The page builds the read-only mirror from these with textContent, never HTML.
    """
    flags: List[List[str]] = [[] for _ in notes]
    indicator = [False] * len(notes)
    for hit in verdict.red_flags:
        if hit.source == "answer" or not hit.quote:
            continue
        start = notes.find(hit.quote)
        while start >= 0:
            for i in range(start, start + len(hit.quote)):
                if hit.id not in flags[i]:
                    flags[i].append(hit.id)
            start = notes.find(hit.quote, start + len(hit.quote))
    for ind in verdict.indicators:
        if notes[ind.start:ind.end] == ind.value:
            for i in range(ind.start, ind.end):
                indicator[i] = True
    segments: List[Dict[str, Any]] = []
    for i, ch in enumerate(notes):
        mark = (tuple(flags[i]), indicator[i])
        if segments and (tuple(segments[-1]["flags"]), segments[-1]["indicator"]) == mark:
            segments[-1]["text"] += ch
        else:
            segments.append({"text": ch, "flags": list(mark[0]), "indicator": mark[1]})
    return segments




def indicator_rows(verdict: Verdict) -> List[Dict[str, Any]]:
    """Indicators with the list status the verdict engine looked up."""
    return [
        {
            "kind": ind.kind, "label": INDICATOR_LABELS.get(ind.kind, ind.kind), "value": ind.value,
            "list": ind.listed or None, "note": ind.list_note,
        }
        for ind in verdict.indicators
    ]


def question_rows(kb: KnowledgeBase, verdict: Verdict) -> List[Dict[str, Any]]:
    """The top type's questions (open, answered, or already told by the notes), then any
    answered question of another type, so every tick can still be changed."""
    open_ids = {q.id for q in verdict.questions}
    rows = []

    def row(qid: str, text: str, state: str, owner: str) -> Dict[str, Any]:
        return {"id": qid, "text": text, "state": state, "type_name": kb.scam_types[owner].short_name}

    top = kb.scam_types[verdict.scam_type]
    for question in top.questions:
        if question.id in verdict.answers:
            state = "yes" if verdict.answers[question.id] else "no"
        else:
            state = "open" if question.id in open_ids else "implied"
        rows.append(row(question.id, question.text, state, top.id))
    shown = {q.id for q in top.questions}
    for qid, yes in verdict.answers.items():
        if qid not in shown:
            owner, question = kb.questions[qid]
            rows.append(row(qid, question.text, "yes" if yes else "no", owner))
    return rows


def checklist_view(steps: LossSteps) -> Dict[str, Any]:
    """The urgent checklist in the operator's words (bot.kb.loss_steps decides it): money or a
    code gone — 110 first, then the bank (its number when named); the scammer still on the
    line — hang up first, nothing else yet."""
    if not steps.urgent:
        return {"title": steps.title, "steps": [], "banks": [], "evidence_title": "", "evidence": [], "warning": ""}
    return {
        "title": steps.title,
        "steps": [steps.police, *steps.bank_lines],
        "banks": [{"name": b.name, "number": b.number} for b in steps.banks],
        "evidence_title": steps.evidence_title,
        "evidence": list(steps.evidence),
        "warning": steps.recovery_warning,
    }


def desk_view(kb: KnowledgeBase, notes: str, verdict: Verdict) -> Dict[str, Any]:
    """Everything the desk panel shows, from one verdict."""
    scam = kb.scam_types[verdict.scam_type]
    api = verdict.to_api()
    steps = loss_steps(kb, verdict)
    return {
        "verdict": api,
        "type": {"id": scam.id, "name": scam.name, "short_name": scam.short_name,
                 "confidence": api["confidence"]},
        "alternatives": [
            {"id": t, "name": kb.scam_types[t].short_name, "confidence": round(c, 4)}
            for t, c in verdict.alternatives
        ],
        "risk": {"level": verdict.risk_level, "label": RISK_LABELS[verdict.risk_level]},
        "red_flags": api["red_flags"],
        "mirror": mirror_segments(notes, verdict),
        "indicators": indicator_rows(verdict),
        "questions": question_rows(kb, verdict),
        "script": list(scam.dissuasion_script),
        "money_lost": verdict.money_lost,
        "stage": verdict.stage,
        "checklist": checklist_view(steps) if steps else None,
        "hotlines": api["hotlines"],
    }
