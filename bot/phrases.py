"""What the assistant says, in the requester's language (English, or Chinese for CJK questions).

Only the engine's own sentences are translated; article passages are shown as written.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

Language = Literal["en", "zh"]

FACT_QUESTIONS: dict[Language, dict[str, str]] = {
    "en": {
        "device": "which device (e.g. Windows laptop, MacBook, iPhone)",
        "software_version": "the app or OS version",
        "error_text": "the exact error message, if any",
        "impact": "whether only you or others are affected",
        "urgency": "whether it blocks your work or you have a workaround",
    },
    "zh": {
        "device": "使用的设备（如 Windows 笔记本、MacBook、iPhone）",
        "software_version": "应用或系统版本",
        "error_text": "具体的错误提示（如有）",
        "impact": "只有您受影响还是其他同事也受影响",
        "urgency": "是否影响工作、有没有临时办法",
    },
}


def language_of(text: str) -> Language:
    """Chinese when CJK characters make up a good share of the letters, else English."""
    cjk = sum(1 for ch in text if "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff")
    letters = sum(1 for ch in text if ch.isalpha())
    return "zh" if letters and cjk / letters >= 0.3 else "en"


def when(due: datetime) -> str:
    return due.strftime("%a %d %b %H:%M UTC")


def answer(lang: Language, *, title: str, section: str, passage: str, sure: bool, truncated: bool) -> str:
    if lang == "zh":
        lead = "这篇文章应该能帮到您" if sure else "这篇文章也许有帮助"
        note = "（您的消息较长，我用开头部分进行了搜索）" if truncated else ""
        head = f"{lead}{note}：*{title}*" + (f" — {section}" if section else "")
        return f"{head}\n\n{passage}\n\n问题解决了吗？"
    lead = "This article should help" if sure else "This might help"
    note = " (your message was long, so I searched with its first part)" if truncated else ""
    head = f"{lead}{note}: *{title}*" + (f" — {section}" if section else "")
    return f"{head}\n\n{passage}\n\nDid that solve it?"


def clarify(lang: Language, candidates: Sequence[str]) -> str:
    options = "; ".join(f"*{t}*" for t in candidates)
    if lang == "zh":
        ask = "您在做什么、用的什么设备或应用、具体出现了什么（错误提示很有帮助）"
        if options:
            return f"我不太确定理解对了。是以下哪个问题：{options}？如果都不是，请再多说一点：{ask}。"
        return f"我暂时没找到相关的帮助文章。能再多说一点吗：{ask}？"
    if options:
        return (
            f"I'm not sure I've understood. Is it about one of these: {options}? If not, tell me a bit more: "
            "what were you trying to do, on which device or app, and what exactly happened "
            "(the error message helps)."
        )
    return (
        "I couldn't find a help article for that yet. Could you tell me a bit more: what were you trying "
        "to do, on which device or app, and what exactly happened (the error message helps)?"
    )


def handoff(
    lang: Language,
    *,
    number: str,
    category: str | None,
    priority: str,
    tier: str,
    response_due: datetime | None,
    missing: Sequence[str],
) -> str:
    if lang == "zh":
        what = category or "待分类"
        text = f"我已为您创建工单 *{number}*（{what}，优先级 {priority}），并转给了 {tier} 团队。"
        if response_due:
            text += f"{tier} 团队将在 {when(response_due)} 前首次回复。"
        text += "在此对话中的回复会转达给工程师。"
        if missing:
            text += "为了更快处理，请告诉我：" + "；".join(FACT_QUESTIONS["zh"][m] for m in missing) + "。"
        return text
    what = category or "triage (the team will categorise it)"
    text = f"I've opened *{number}* for you ({what}, {priority} priority) and passed it to the {tier} team."
    if response_due:
        text += f" The {tier} team aims to respond by {when(response_due)}."
    text += " Replies in this thread reach the engineer."
    if missing:
        text += (
            " To speed things up, please tell me: "
            + ", ".join(FACT_QUESTIONS["en"][m] for m in missing)
            + "."
        )
    return text
