"""What the assistant says, in the requester's language (English, or Chinese for CJK questions).

Only the engine's own sentences are translated; article passages are shown as written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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


_ZH_WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
# Ticket priorities as a Chinese reader says them; an unknown one is shown as stored.
_ZH_PRIORITIES = {"critical": "紧急", "high": "高", "medium": "中", "low": "低"}


def when(due: datetime, lang: Language = "en") -> str:
    """A due time as the requester reads dates: "Wed 02 Dec 12:03 UTC" or "12月2日（周三）12:03 UTC"."""
    if lang == "zh":
        return f"{due.month}月{due.day}日（{_ZH_WEEKDAYS[due.weekday()]}）{due:%H:%M} UTC"
    return due.strftime("%a %d %b %H:%M UTC")


def answer(
    lang: Language,
    *,
    title: str,
    section: str,
    passage: str,
    sure: bool,
    truncated: bool,
    note: str | None = None,
) -> str:
    """An answer from an article; `note`: a line said after the passage (see `also_mentioned`)."""
    later = f"\n\n{note}" if note else ""
    if lang == "zh":
        lead = "这篇文章应该能帮到您" if sure else "这篇文章也许有帮助"
        remark = "（您的消息较长，我只用了其中描述问题的部分进行搜索）" if truncated else ""
        head = f"{lead}{remark}：*{title}*" + (f" — {section}" if section else "")
        return f"{head}\n\n{passage}{later}\n\n问题解决了吗？"
    lead = "This article should help" if sure else "This might help"
    remark = (
        " (your message was long, so I searched with the part that describes the problem)"
        if truncated
        else ""
    )
    head = f"{lead}{remark}: *{title}*" + (f" — {section}" if section else "")
    return f"{head}\n\n{passage}{later}\n\nDid that solve it?"


def also_mentioned(lang: Language, other: str) -> str:
    """A second problem the message reported that the answer's article is not about: named so it
    is not lost (one case at a time is searched and ticketed)."""
    other = other if len(other) <= 120 else other[:119].rstrip() + "…"
    if lang == "zh":
        return f"您还提到了“{other}”：这个问题解决后，请单独发给我，我再帮您看。"
    return (
        f"You also mentioned “{other}”: once this one is settled, send that on its own and I'll look at it."
    )


# What a clarifying question may ask for, each only when the message has not already said it.
CLARIFY_ASKS: dict[Language, dict[str, str]] = {
    "en": {
        "goal": "what you were trying to do",
        "device": "on which device or app",
        "device_only": "on which device (e.g. a Windows laptop, a Mac or a phone)",
        "error_text": "what exactly happened (the error message helps)",
        "more": "anything else you noticed, such as when it started",
        "need": "what exactly you need, for which system, folder or team, and what it is for",
        "outcome": "which app or system it is about and what you want to end up with",
        "power": (
            "whether any light comes on or it makes a sound, and what you tried (another charger or socket)"
        ),
        "lost": "when and where you last had it, and whether it was locked with a PIN or password",
    },
    "zh": {
        "goal": "您在做什么",
        "device": "用的什么设备或应用",
        "device_only": "用的什么设备（如 Windows 笔记本、Mac 或手机）",
        "error_text": "具体出现了什么（错误提示很有帮助）",
        "more": "其他您注意到的情况，比如从什么时候开始的",
        "need": "具体需要什么、用于哪个系统、文件夹或团队，以及用途",
        "outcome": "涉及哪个应用或系统，以及您想达到什么效果",
        "power": "按电源键时有没有指示灯亮或声音，以及试过什么（换充电器或插座）",
        "lost": "最后一次是在什么时间、什么地方用过它，以及它是否设置了开机密码或 PIN",
    },
}


def clarify(
    lang: Language, candidates: Sequence[str], asks: Sequence[str] = ("goal", "device", "error_text")
) -> str:
    """One clarifying question: likely articles when there are any, and only the details still missing."""
    options = ("；" if lang == "zh" else "; ").join(f"*{t}*" for t in candidates)
    wanted = [CLARIFY_ASKS[lang][a] for a in asks] or [CLARIFY_ASKS[lang]["more"]]
    if lang == "zh":
        ask = "、".join(wanted)
        if options:
            return f"我不太确定理解对了。是以下哪个问题：{options}？如果都不是，请再多说一点：{ask}。"
        return f"我暂时没找到相关的帮助文章。能再多说一点吗：{ask}？"
    ask = _english_list(wanted)
    if options:
        return (
            f"I'm not sure I've understood. Is it about one of these: {options}? "
            f"If not, tell me a bit more: {ask}."
        )
    return f"I couldn't find a help article for that yet. Could you tell me a bit more: {ask}?"


def _english_list(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


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
        level = _ZH_PRIORITIES.get(priority.lower(), priority)
        text = f"我已为您创建工单 *{number}*（{what}，优先级：{level}），并转给了 {tier} 团队。"
        if response_due:
            text += f"{tier} 团队将在 {when(response_due, 'zh')} 前首次回复。"
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
            + "; ".join(FACT_QUESTIONS["en"][m] for m in missing)
            + "."
        )
    return text


def known_incident(lang: Language, label: str, title: str, latest: str) -> str:
    """Said after the handoff when the ticket joined an active major incident."""
    if lang == "zh":
        said = f"最新进展：{latest}" if latest else "团队正在处理。"
        return (
            f"这看起来是一个已知的重大故障 {label}（{title}），您的工单已关联到它。{said}后续进展会发到这里。"
        )
    said = f" Latest update: {latest}" if latest else " The team is working on it."
    return (
        f"This looks like part of a known major incident, *{label}: {title}*; your ticket is linked to it."
        f"{said} Its updates and its fix will reach you here."
    )


# Replies to messages that are not questions (see bot.intents), by intent and by where the
# conversation stands: "answered" (waiting for Solved / Not solved), "clarifying" (waiting for
# more detail) or "idle" (no open question).
_EN_IDLE = "OK. If you need help with anything, just describe the problem."
_EN_DID_IT = "Did that solve it? Say *solved*, *not solved* or *talk to a person*."
_EN_MORE = "Tell me a bit more about the problem when you're ready."
_EN_CLOSED = "Glad it's sorted. I haven't opened a ticket; ask me any time."
_ZH_IDLE = "好的。需要帮助时，直接描述问题即可。"
_ZH_DID_IT = "问题解决了吗？请回复“解决了”“没解决”或“转人工”。"
_ZH_MORE = "方便时请再多说一点问题的情况。"
_ZH_CLOSED = "很高兴问题解决了。我没有创建工单，有需要随时问我。"

_SMALL_TALK: dict[Language, dict[str, dict[str, str]]] = {
    "en": {
        "greeting": {
            "idle": "Hi! I'm the IT assistant. What can I help you with? Describe the problem in a "
            "sentence or two.",
            "answered": f"Hi! {_EN_DID_IT} Or ask me something else.",
            "clarifying": f"Hi! {_EN_MORE}",
        },
        "thanks": {
            "idle": "You're welcome! If anything else comes up, just ask.",
            "answered": f"You're welcome! {_EN_DID_IT}",
            "clarifying": f"You're welcome. {_EN_MORE}",
        },
        "ack": {"idle": _EN_IDLE, "answered": f"OK. {_EN_DID_IT}", "clarifying": f"OK. {_EN_MORE}"},
        "yes": {
            "idle": _EN_IDLE,
            "answered": f"OK. {_EN_DID_IT}",
            "clarifying": "Which one is it? Say in a few words what's happening and I'll look again.",
        },
        "no": {
            "idle": _EN_IDLE,
            "answered": f"OK. {_EN_DID_IT}",
            "clarifying": "No problem. Tell me in your own words what's happening and I'll look again.",
        },
        "close": {"idle": "No problem. Ask me any time.", "answered": _EN_CLOSED, "clarifying": _EN_CLOSED},
    },
    "zh": {
        "greeting": {
            "idle": "您好！我是 IT 助手。请问遇到了什么问题？用一两句话描述一下即可。",
            "answered": f"您好！{_ZH_DID_IT}也可以问别的问题。",
            "clarifying": f"您好！{_ZH_MORE}",
        },
        "thanks": {
            "idle": "不客气！有其他问题随时问我。",
            "answered": f"不客气！{_ZH_DID_IT}",
            "clarifying": f"不客气。{_ZH_MORE}",
        },
        "ack": {"idle": _ZH_IDLE, "answered": f"好的。{_ZH_DID_IT}", "clarifying": f"好的。{_ZH_MORE}"},
        "yes": {
            "idle": _ZH_IDLE,
            "answered": f"好的。{_ZH_DID_IT}",
            "clarifying": "是哪一个呢？请用几句话说说具体情况，我再找一找。",
        },
        "no": {
            "idle": _ZH_IDLE,
            "answered": f"好的。{_ZH_DID_IT}",
            "clarifying": "没关系。请用您自己的话说说具体情况，我再找一找。",
        },
        "close": {"idle": "好的，随时可以问我。", "answered": _ZH_CLOSED, "clarifying": _ZH_CLOSED},
    },
}


def small_talk(lang: Language, intent: str, where: Literal["idle", "answered", "clarifying"]) -> str:
    """The reply to a greeting, thanks, "ok", a bare yes/no or "never mind"."""
    return _SMALL_TALK[lang][intent][where]


def solved(lang: Language, *, after_answer: bool) -> str:
    if lang == "zh":
        return "太好了，问题已标记为解决！" if after_answer else "很高兴问题解决了。有其他问题随时问我。"
    if after_answer:
        return "Great, glad that fixed it! I've marked this as solved."
    return "Glad it's sorted. Ask me anything else any time."


def not_about_it(lang: Language) -> str:
    """Small talk with nothing of IT in it ("tell me a joke"): say what we do, open no ticket unasked."""
    if lang == "zh":
        return (
            "这看起来不是 IT 问题，所以我没有创建工单。"
            "我可以帮助处理账号和密码、设备、软件、邮件和网络方面的问题："
            "请描述一下问题；如果仍希望转给 IT 同事，请说“转人工”。"
        )
    return (
        "That doesn't look like an IT question, so I haven't opened a ticket. I help with accounts and "
        "passwords, devices, software, e-mail and the network: describe the problem, or say *talk to a "
        "person* to pass this on to the IT team as it is."
    )


def ask_what_for_person(lang: Language) -> str:
    if lang == "zh":
        return "好的。请问需要什么帮助？描述一下问题，我会转给 IT 同事。"
    return "Sure. What do you need help with? Describe the problem and I'll pass it on."


# What the assistant says once a case is a ticket: the requester reads these in their language too.
def relayed(lang: Language, number: str) -> str:
    """A reply after the handoff was added to the ticket."""
    if lang == "zh":
        return f"已添加到 {number}，工程师会看到。"
    return f"Added to {number}; the engineer will see it."


def relayed_new_priority(lang: Language, number: str, priority: str, tier: str, due: datetime | None) -> str:
    """What the requester said (impact, urgency) changed the ticket's priority and so its SLA."""
    if lang == "zh":
        level = _ZH_PRIORITIES.get(priority.lower(), priority)
        by = f"将在 {when(due, 'zh')} 前首次回复" if due else "会尽快回复"
        return f"谢谢，已添加到 {number}。根据您的描述，优先级现在是：{level}；{tier} 团队{by}。"
    by = when(due) if due else "soon"
    return (
        f"Thanks, added to {number}. From what you said, its priority is now {priority}; "
        f"the {tier} team aims to respond by {by}."
    )


def reopened(lang: Language, number: str, tier: str) -> str:
    if lang == "zh":
        return f"我已重新打开 {number} 并转达了您的消息，{tier} 团队会再次跟进。"
    return f"I've reopened {number} and passed this on; the {tier} team will pick it up again."


def choice_gone(lang: Language) -> str:
    """A click on an article we offered earlier, after the conversation has moved on."""
    if lang == "zh":
        return "那个选项已经过时了，对话已经继续。请直接在这里描述您的问题。"
    return "That choice is from an earlier question and no longer open; tell me here what you need."


def already_with_team(lang: Language, number: str) -> str:
    """A button pressed (or typed) after the case is already a ticket."""
    if lang == "zh":
        return f"{number} 已经在 IT 团队处理中；在此回复即可补充信息。"
    return f"{number} is already with the IT team; reply here to add anything."


def settled(lang: Language, number: str, *, closed: bool) -> str:
    """ "solved" / "thanks" after the ticket was resolved: closed as confirmed, or left resolved."""
    if lang == "zh":
        if closed:
            return f"感谢确认：{number} 已关闭。以后有其他问题随时在这里问我。"
        return f"不客气！{number} 保持已解决状态；如果问题再次出现，请在这里回复。"
    if closed:
        return f"Thanks for confirming: {number} is closed. Ask me here any time something else comes up."
    return f"You're welcome! {number} stays resolved; write here if the problem comes back."


def attachment_only(lang: Language) -> str:
    """A file shared with no words: we cannot read it, so ask what it shows."""
    if lang == "zh":
        return (
            "我看不了图片或文件，但已把它记在这个问题里，转人工时工程师能看到。"
            "它显示的是什么？请把错误提示打出来，或者用一句话说说出了什么问题。"
        )
    return (
        "I can't read images or files, but I've kept this one with your question for the engineer, "
        "should it come to that. What does it show? The error message typed out, or a sentence "
        "about what went wrong, is enough."
    )


def rated(lang: Language, number: str, score: int) -> str:
    """A rating typed after the ticket was resolved: recorded, and the ticket is closed."""
    if lang == "zh":
        return f"感谢您的评分（{score}/5）！{number} 已关闭。以后有其他问题随时在这里问我。"
    return (
        f"Thanks for rating {number} {score}/5! It's closed now; ask me here any time something "
        "else comes up."
    )


def already_rated(lang: Language, number: str, score: int) -> str:
    if lang == "zh":
        return f"{number} 已经评过分了（{score}/5），谢谢！如果问题再次出现，请在这里回复。"
    return f"{number} was already rated {score}/5, thanks! Write here if the problem comes back."


def offer_withdraw(lang: Language, number: str) -> str:
    """The requester says it works now while the ticket is open: passed on, and an offer to close."""
    if lang == "zh":
        return f"太好了！我已把这条消息转给工程师。需要我关闭 {number} 吗？回复“是”即可关闭。"
    return (
        f"Good to hear! I've passed that on. Shall I close {number} so nobody works on it any more? "
        "Reply *yes* to close it."
    )


def withdrawn(lang: Language, number: str, *, here: bool = True) -> str:
    """The requester's ticket closed at their word; `here`: said in the ticket's own thread, where
    a later reply reopens it (else that thread is where to write)."""
    if lang == "zh":
        where = "在这里" if here else "在该工单的对话里"
        return f"已关闭 {number}。如果问题再次出现，请{where}回复，我会重新打开它。"
    where = "write here" if here else "reply in its thread"
    return f"Done: {number} is closed. If the problem comes back, {where} and I'll reopen it."


_ZH_STATUSES = {
    "new": "新建",
    "triaged": "待处理",
    "in_progress": "处理中",
    "waiting_on_user": "等待您的回复",
    "escalated": "已升级",
    "reopened": "已重新打开",
    "resolved": "已解决",
    "closed": "已关闭",
}


@dataclass(frozen=True)
class TicketState:
    """What is said of a ticket's state (`ticket_status`, `status_overview`): due is the next promise."""

    number: str
    subject: str
    status: str
    tier: str
    claimed: bool
    due: datetime | None
    responded: bool
    resolution: str | None


def ticket_status(lang: Language, ticket: TicketState) -> str:
    """Where a ticket stands, for "any update?" in its thread: its state, who has it and the time
    promised.

    Open tickets say the next promise (a first answer, else the fix); a settled one says how it
    was settled and how to bring it back, since the question may come from someone who missed it.
    """
    number, status, tier = ticket.number, ticket.status, ticket.tier
    if status in ("resolved", "closed"):
        fix = _fix(ticket.resolution)
        if lang == "zh":
            state = _ZH_STATUSES[status]
            return (
                f"{number} {state}。{fix.strip()}\n如果问题仍然存在，请在这里回复，我会重新打开它。".strip()
            )
        return f"{number} is {status}.{fix}\nIf the problem is still there, reply here and I'll reopen it."
    where = (number, status, tier, ticket.claimed, ticket.due, ticket.responded)
    if lang == "zh":
        state = _ZH_STATUSES.get(status, status)
        if status == "waiting_on_user":
            return f"{number} 目前{state}，在 {tier} 团队。工程师在等您的回复，请在这里回答他们的问题。"
        return f"{_zh_where(*where)}我也已把您的消息转给他们。"
    if status == "waiting_on_user":
        return f"The {tier} team is waiting for your answer on {number}: reply here to their question."
    return f"{_where(*where)} I've passed your message on too."


def _fix(resolution: str | None) -> str:
    """How a settled ticket was fixed, as said after its state (" Reset the VPN profile.")."""
    return f" {resolution.strip()[:300]}" if resolution and resolution.strip() else ""


def _where(number: str, status: str, tier: str, claimed: bool, due: datetime | None, responded: bool) -> str:
    """An open ticket's state and the next time promised, in English."""
    if claimed:
        where = f"{number} is being worked on by the {tier} team."
    elif status == "escalated":
        where = f"{number} was escalated to the {tier} team and is waiting for an engineer there."
    else:
        where = f"{number} is in the {tier} team's queue, waiting for an engineer to pick it up."
    promise = f" They aim to {'resolve it' if responded else 'respond'} by {when(due)}." if due else ""
    return f"{where}{promise}"


def _zh_where(
    number: str, status: str, tier: str, claimed: bool, due: datetime | None, responded: bool
) -> str:
    state = _ZH_STATUSES.get(status, status)
    who = "已有工程师在处理" if claimed else "正在等待工程师接手"
    promise = f"{tier} 团队将在 {when(due, 'zh')} 前{'解决' if responded else '首次回复'}。" if due else ""
    return f"{number} 目前{state}，在 {tier} 团队，{who}。{promise}"


def _state_sentence(lang: Language, t: TicketState) -> str:
    """One ticket's state for an overview: said outside its thread, so it names the ticket by its
    subject too and sends a reply to where it reaches the engineer."""
    named = (
        f"*{t.number}* (“{_clip(t.subject)}”)" if lang == "en" else f"*{t.number}*（“{_clip(t.subject)}”）"
    )
    if t.status in ("resolved", "closed"):
        fix = _fix(t.resolution)
        if lang == "zh":
            return f"{named} {_ZH_STATUSES[t.status]}。{fix.strip()}".strip()
        return f"{named} is {t.status}.{fix}"
    if t.status == "waiting_on_user":
        if lang == "zh":
            return f"{named}：{t.tier} 团队在等您的回复，请在该工单的对话里回答。"
        return f"{named}: the {t.tier} team is waiting for your answer; reply in that ticket's thread."
    if lang == "zh":
        return _zh_where(named, t.status, t.tier, t.claimed, t.due, t.responded)
    return _where(named, t.status, t.tier, t.claimed, t.due, t.responded)


def offer_close(lang: Language, tickets: Sequence[TicketState]) -> str:
    """ "Never mind, it works now" outside any ticket's thread from someone with open tickets: which
    one is it about? One is offered for a *yes*; several are listed to name by number."""
    if len(tickets) == 1:
        t = tickets[0]
        if lang == "zh":
            return f"太好了！是指 *{t.number}*（“{_clip(t.subject)}”）吗？回复“是”我就关闭它。"
        return (
            f"Good to hear! Is that about *{t.number}* (“{_clip(t.subject)}”)? Reply *yes* and I'll close it."
        )
    listed = "\n".join(f"• *{t.number}* “{_clip(t.subject)}”" for t in tickets)
    if lang == "zh":
        return f"太好了！要关闭哪个工单？请回复“关闭”加工单号，例如“关闭 {tickets[0].number}”：\n{listed}"
    example = f"close {tickets[0].number}"
    return (
        f"Good to hear! Which ticket shall I close? Reply *close* and its number, e.g. “{example}”:\n{listed}"
    )


def left_open(lang: Language, number: str) -> str:
    if lang == "zh":
        return f"好的，{number} 保持打开。"
    return f"OK, {number} stays open."


def _clip(subject: str) -> str:
    return subject if len(subject) <= 60 else subject[:59].rstrip() + "…"


def status_overview(
    lang: Language,
    open_tickets: Sequence[TicketState],
    latest: TicketState | None,
    missing: str | None = None,
) -> str:
    """ "What's the status of my ticket?" asked outside any ticket's thread: each open ticket's
    state and next promise; with none open, how the latest one was settled. `missing`: a ticket
    number the person named that is not one of theirs (nobody else's tickets are described)."""
    lines: list[str] = []
    if missing is not None:
        lines.append(
            f"我在您的工单里找不到 {missing}。"
            if lang == "zh"
            else f"I can't find {missing} among your tickets."
        )
    if len(open_tickets) == 1:
        lines.append(_state_sentence(lang, open_tickets[0]))
    elif open_tickets:
        lines.append(
            f"您有 {len(open_tickets)} 个未关闭的工单："
            if lang == "zh"
            else f"You have {len(open_tickets)} open tickets:"
        )
        lines.extend(f"• {_state_sentence(lang, t)}" for t in open_tickets)
    elif latest is not None:
        lines.append("您没有未关闭的工单。" if lang == "zh" else "You have no open tickets.")
        lines.append(_state_sentence(lang, latest))
    elif missing is None:
        lines.append(
            "您还没有任何工单。请在这里描述问题，我来帮您解决或转给 IT 同事。"
            if lang == "zh"
            else "You have no tickets. Describe the problem here and I'll help or pass it to IT."
        )
    return "\n".join(lines)
