"""Block Kit for every message, card, modal and Home tab the app posts, within Slack's limits.

Everything here is a pure function from our data to Slack JSON, so rendering is tested without a
network and the fake Slack server validates the result with slack_sdk.models. Limits that Slack
enforces with an `invalid_blocks` error are enforced here first: at most 50 blocks per message,
3,000 characters per section text, 75 characters per button label, 2,000 per button value.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from bot import phrases
from bot.engine import Feedback, Outcome
from bot.slack.text import escape, markdown_to_mrkdwn

Block = dict[str, Any]

# A card of a ticket in these states offers no work buttons; reopening brings them back.
SETTLED_STATUSES = frozenset({"resolved", "closed"})
MAX_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_CHARS = 3_000
MAX_FALLBACK_CHARS = 3_900  # `text` is truncated by Slack at 40k, but long fallbacks make noisy notifications
MAX_BUTTON_VALUE = 2_000
MAX_OPTION_TEXT = 75
MAX_PICK_BUTTONS = 5

# action_id / callback_id names: the app registers a listener for each (the manifest test checks).
FEEDBACK_ACTIONS = {
    Feedback.SOLVED: ("tl_solved", "Solved", "primary"),
    Feedback.NOT_SOLVED: ("tl_not_solved", "Not solved", None),
    Feedback.HUMAN: ("tl_human", "Talk to a person", None),
}
CLAIM, ESCALATE, RESOLVE, NOTE, WAIT = "tl_claim", "tl_escalate", "tl_resolve", "tl_note", "tl_wait"
CORRECT_CATEGORY, CORRECT_PRIORITY = "tl_correct_category", "tl_correct_priority"
ADD_DETAILS = "tl_add_details"
PICK_PREFIX = "tl_pick_"  # + the option's position: action ids are unique within a block
CSAT_PREFIX = "tl_csat_"
WAIT_VIEW = "tl_wait_view"
ESCALATE_VIEW = "tl_escalate_view"
REPORT_VIEW, DETAILS_VIEW, NOTE_VIEW, RESOLVE_VIEW = (
    "tl_report",
    "tl_details",
    "tl_note_view",
    "tl_resolve_view",
)
REPORT_SHORTCUT = "tl_report_to_it"
# The learning loop: similar tickets on the card, KB drafts from resolved tickets, spike alerts.
LINK_DUPLICATE, CREATE_DRAFT, APPROVE_DRAFT = "tl_link_duplicate", "tl_kb_draft", "tl_kb_approve"
DECLARE_INCIDENT, DECLARE_VIEW = "tl_declare_incident", "tl_declare_view"
DISMISS_ALERT = "tl_dismiss_alert"

PRIORITIES = ("critical", "high", "medium", "low")
FACT_LABELS = {
    "device": "Device (e.g. Windows laptop, MacBook, iPhone)",
    "software_version": "App or OS version",
    "error_text": "Exact error message",
    "impact": "Who is affected?",
    "urgency": "How urgent is it?",
}
# Priority facts are choices, not free text: the ITIL matrix needs one of these values.
FACT_CHOICES = {
    "impact": (("one", "Only me"), ("team", "My team"), ("many", "Many people"), ("everyone", "Everyone")),
    "urgency": (
        ("blocking", "It blocks my work"),
        ("workaround", "I have a workaround"),
        ("low", "Not urgent"),
    ),
}


# ---------------------------------------------------------------------------- primitives
def plain(text: str, limit: int = MAX_OPTION_TEXT) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit) or " ", "emoji": True}


def safe_cut(text: str, length: int) -> str:
    """`text[:length]`, moved back so it never ends inside an entity (`&lt;`) or a control
    sequence (`<url|label>`, `<@U…>`): Slack would show the broken half literally."""
    kept = text[:length]
    opened = kept.rfind("<")
    if opened > kept.rfind(">"):
        kept = kept[:opened]
    amp = kept.rfind("&", max(0, len(kept) - 8))
    if amp >= 0 and ";" not in kept[amp:] and text[amp:].find(";") in range(2, 9):
        kept = kept[:amp]
    return kept


def clip(text: str, limit: int, suffix: str = "…") -> str:
    return text if len(text) <= limit else safe_cut(text, limit - len(suffix)).rstrip() + suffix


def section(text: str, *, link: str | None = None) -> Block:
    """A mrkdwn section; text over 3,000 chars is cut and, when we have one, ends with a link."""
    if len(text) > MAX_SECTION_CHARS:
        tail = f"… <{link}|Read the full article>" if link else "… (truncated)"
        text = safe_cut(text, MAX_SECTION_CHARS - len(tail)).rstrip() + tail
    return {"type": "section", "text": {"type": "mrkdwn", "text": text or " "}}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(t, 2_000)} for t in texts[:10]]}


def button(action_id: str, label: str, value: str, style: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": plain(label),
        "value": value[:MAX_BUTTON_VALUE],
    }
    if style:
        element["style"] = style
    return element


def actions(block_id: str, *elements: dict[str, Any]) -> Block:
    return {"type": "actions", "block_id": block_id, "elements": list(elements)[:25]}


def option(value: str, label: str) -> dict[str, Any]:
    return {"text": plain(label), "value": value}


def fit(blocks: Sequence[Block], *, more_link: str | None = None, limit: int = MAX_BLOCKS) -> list[Block]:
    """At most `limit` blocks (50 in a message, 100 in a modal or App Home): keep the first
    `limit` - 1 and say where the rest is."""
    if len(blocks) <= limit:
        return list(blocks)
    note = f"More in <{more_link}|the full view>." if more_link else "List shortened to fit Slack."
    return [*blocks[: limit - 1], context(note)]


def fallback(text: str) -> str:
    """The plain-text `text` beside blocks: shown in notifications and by screen readers."""
    return clip(" ".join(text.split()), MAX_FALLBACK_CHARS)


# ---------------------------------------------------------------------------- requester side
def confidence_words(confidence: float | None) -> str:
    if confidence is None:
        return ""
    if confidence >= 0.85:
        return "I'm confident this answers it"
    if confidence >= 0.6:
        return "This is likely what you need"
    return "This might help"


def outcome_message(outcome: Outcome) -> tuple[str, list[Block]]:
    """Any engine outcome as (fallback text, blocks) for the requester's thread."""
    if outcome.kind == "answer":
        return answer_message(outcome)
    blocks: list[Block] = [section(escape(outcome.text))]
    if outcome.ticket is not None:
        ticket = outcome.ticket
        due = f" · respond by {phrases.when(ticket.sla_response_due)}" if ticket.sla_response_due else ""
        blocks.append(
            context(f"*{ticket.number}* · {ticket.category} · {ticket.priority} · {ticket.tier}{due}")
        )
        if ticket.missing_facts:
            blocks.append(
                actions(
                    "tl_details",
                    button(ADD_DETAILS, "Add details", ticket.number, "primary"),
                    *_fact_choice_buttons(ticket.number, ticket.missing_facts),
                )
            )
    if outcome.kind == "clarify" and outcome.sources:
        blocks.append(_pick_actions(outcome))
    feedback = [f for f in outcome.actions if f in FEEDBACK_ACTIONS]
    if feedback:
        blocks.append(_feedback_actions(outcome.conversation_key, feedback))
    return fallback(escape(outcome.text)), fit(blocks)


def _pick_actions(outcome: Outcome) -> Block:
    """The articles a clarifying question offers, one button each: a click answers from it, as
    typing its number does. The value carries the conversation and the article, not a position,
    so a click on an old message can never pick from a newer offer."""
    return actions(
        "tl_pick",
        *(
            button(
                f"{PICK_PREFIX}{i}",
                source.title,
                f"{outcome.conversation_key}|{source.id}",
            )
            for i, source in enumerate(outcome.sources[:MAX_PICK_BUTTONS])
        ),
    )


def _fact_choice_buttons(number: str, missing: Iterable[str]) -> list[dict[str, Any]]:
    """Urgency as one-click buttons (the commonest missing fact); the rest go in the modal."""
    if "urgency" not in missing:
        return []
    return [
        button(f"tl_fact_urgency_{value}", label, f"{number}|urgency|{value}")
        for value, label in FACT_CHOICES["urgency"]
    ]


def answer_message(outcome: Outcome) -> tuple[str, list[Block]]:
    top = outcome.sources[0] if outcome.sources else None
    link = top.url if top else None
    passage = markdown_to_mrkdwn(outcome.passage) if outcome.passage else escape(outcome.text)
    blocks: list[Block] = [section(passage, link=link)]
    if top is not None:
        title = f"<{top.url}|{escape(top.title)}>" if top.url else f"*{escape(top.title)}*"
        where = f" › {escape(top.section)}" if top.section else ""
        words = confidence_words(outcome.confidence)
        blocks.append(context(f"From {title}{where}" + (f" · {words}" if words else "")))
    if outcome.note:  # a second problem the message reported: the person's words, escaped
        blocks.append(section(escape(outcome.note)))
    blocks.append(_feedback_actions(outcome.conversation_key, outcome.actions or tuple(FEEDBACK_ACTIONS)))
    title_text = f" (from {escape(top.title)})" if top else ""
    return fallback(passage + title_text), fit(blocks)


def _feedback_actions(conversation_key: str, choices: Iterable[Feedback]) -> Block:
    elements = [
        button(FEEDBACK_ACTIONS[f][0], FEEDBACK_ACTIONS[f][1], conversation_key, FEEDBACK_ACTIONS[f][2])
        for f in choices
        if f in FEEDBACK_ACTIONS
    ]
    return actions("tl_feedback", *elements)


def notice_message(text: str) -> tuple[str, list[Block]]:
    """A notice whose words come from people or the workflow: escaped, so `<` and `&` show as typed."""
    text = escape(text)
    return fallback(text), [section(text)]


def csat_message(number: str) -> tuple[str, list[Block]]:
    text = f"*{number}* is resolved. How did we do? (1 = poor, 5 = great)"
    buttons = [button(f"{CSAT_PREFIX}{n}", str(n), f"{number}|{n}") for n in range(1, 6)]
    return fallback(text), [section(text), actions("tl_csat", *buttons)]


# ---------------------------------------------------------------------------- engineer side
def ticket_card(
    *,
    number: str,
    subject: str,
    body: str,
    category: str,
    priority: str,
    tier: str,
    status: str,
    requester: str,
    assignee: str | None,
    response_due: datetime | None,
    categories: Sequence[str],
    due_label: str = "Respond by",
    facts: dict[str, Any] | None = None,
    headline: str = "New ticket",
    similar: Sequence[dict[str, Any]] = (),
    can_draft: bool = False,
    actionable: bool = True,
    incident: str | None = None,
) -> tuple[str, list[Block]]:
    """The tier-queue card: what, who, SLA, similar tickets, and the buttons to work it.

    `incident`: "MI-3: Office internet outage" when the ticket is part of an active major incident.

    `similar` rows are `SimilarTicket.to_json()`; `can_draft` adds "Create KB draft" (resolved tickets).
    `actionable=False`: the card of a tier the ticket has left, which shows its state only.
    """
    due = phrases.when(response_due) if response_due else "—"
    fields = [
        f"*Category*\n{escape(category)}",
        f"*Priority*\n{priority}",
        f"*Tier*\n{tier}",
        f"*Status*\n{status.replace('_', ' ')}",
        f"*Requester*\n{requester}",
        f"*Assignee*\n{assignee or 'unclaimed'}",
        f"*{due_label}*\n{due}",
    ]
    blocks: list[Block] = [
        {"type": "header", "text": plain(f"{headline}: {number}", 150)},
        section(f"*{escape(subject)}*\n{escape(clip(body, 1_500))}"),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields[:10]]},
    ]
    known = {k: v for k, v in (facts or {}).items() if v and k in FACT_LABELS}
    if known:
        blocks.append(
            context(*(f"*{k.replace('_', ' ')}*: {escape(clip(str(v), 200))}" for k, v in known.items()))
        )
    category_menu = {
        "type": "static_select",
        "action_id": CORRECT_CATEGORY,
        "placeholder": plain("Correct category"),
        "options": [option(f"{number}|{c}", c) for c in list(categories)[:100]],
    }
    priority_menu = {
        "type": "static_select",
        "action_id": CORRECT_PRIORITY,
        "placeholder": plain("Correct priority"),
        "options": [option(f"{number}|{p}", p) for p in PRIORITIES],
    }
    if incident:
        blocks.append(
            context(
                f":rotating_light: Part of major incident *{escape(incident)}*: its updates reach the "
                "requester, and resolving it resolves this ticket."
            )
        )
    if similar:
        blocks.extend(similar_blocks(number, similar))
    done = status in SETTLED_STATUSES  # nothing left to claim, escalate or resolve
    buttons = (
        []
        if done
        else [
            button(CLAIM, "Claim", number, "primary"),
            button(ESCALATE, "Escalate", number),
            button(RESOLVE, "Resolve", number),
            button(WAIT, "Ask requester", number),
        ]
    )
    buttons.append(button(NOTE, "Add internal note", number))
    if can_draft:
        buttons.append(button(CREATE_DRAFT, "Create KB draft", number))
    if not actionable:
        blocks.append(context(f"Now handled in {tier}: work it from that tier's card."))
        return fallback(escape(f"{headline}: {number} — {subject} ({category}, {priority}, {tier})")), fit(
            blocks
        )
    blocks.append(actions("tl_card", *buttons))
    if categories:
        blocks.append(actions("tl_correct", category_menu, priority_menu))
    blocks.append(
        context("Reply in this thread to talk to the requester. Start with `!note` to keep it internal.")
    )
    text = escape(f"{headline}: {number} — {subject} ({category}, {priority}, {tier})")
    return fallback(text), fit(blocks)


def similar_blocks(number: str, similar: Sequence[dict[str, Any]]) -> list[Block]:
    """One line per similar ticket (status, how similar, its fix) with a "Mark duplicate" button."""
    out: list[Block] = [context("*Similar tickets* — check their fixes before starting:")]
    for row in similar[:3]:
        state = str(row["status"]).replace("_", " ")
        fix = f"\n_Fix:_ {escape(clip(str(row['resolution']), 300))}" if row.get("resolution") else ""
        line = (
            f"*{row['number']}* {escape(clip(str(row['subject']), 120))} — {state} · {row['tier']}"
            f" · {float(row['similarity']):.0%} similar{fix}"
        )
        block = section(line)
        block["accessory"] = button(LINK_DUPLICATE, "Mark duplicate", f"{number}|{row['number']}")
        out.append(block)
    return out


def spike_alert_message(
    payload: dict[str, Any], *, can_declare: bool, outcome: str | None = None
) -> tuple[str, list[Block]]:
    """A ticketless message for a tier channel: spike alerts and major-incident updates.

    The cluster's tickets are listed when the payload has them; a spike alert gets "Declare major
    incident" and "Not an incident" buttons (the listeners check the clicker is L3 or an admin).
    Once decided, `outcome` replaces the buttons with who decided what.
    """
    text = escape(str(payload.get("text") or ""))
    body: list[Block] = [section(text)]
    tickets = payload.get("tickets") or []
    lines = []
    for item in tickets[:15]:
        if isinstance(item, dict):
            lines.append(
                f"• *{item.get('number')}* {escape(clip(str(item.get('subject') or ''), 100))}"
                f" · {item.get('priority') or '—'} · {item.get('tier') or ''}"
            )
        else:
            lines.append(f"• *{item}*")
    if lines:
        more = f"\n…and {len(tickets) - 15} more" if len(tickets) > 15 else ""
        body.append(section("*Tickets*\n" + "\n".join(lines) + more))
    if outcome:
        body.append(context(outcome))
    elif can_declare and payload.get("alert_id") is not None:
        alert = str(payload["alert_id"])
        body.append(
            actions(
                "tl_spike",
                button(DECLARE_INCIDENT, "Declare major incident", alert, "danger"),
                button(DISMISS_ALERT, "Not an incident", alert),
            )
        )
    return fallback(text), fit(body)


def draft_created_message(
    *, draft_id: int, number: str, title: str, suggestion: str, can_approve: bool, draft_text: str = ""
) -> tuple[str, list[Block]]:
    """The ephemeral answer to "Create KB draft": which draft, what it suggests, how to approve —
    and the draft itself, so "Approve and publish" is never pressed on text nobody has read."""
    text = (
        f"KB draft #{draft_id} written from {number}: *{escape(title)}*. {suggestion} "
        f"Review it with `tierline kb drafts show {draft_id}` and publish with "
        f"`tierline kb drafts approve {draft_id}`."
    )
    body: list[Block] = [section(text)]
    if draft_text:
        body.append(section(">>> " + escape(clip(draft_text, 2_500))))
    if can_approve:
        body.append(
            actions("tl_kb_draft", button(APPROVE_DRAFT, "Approve and publish", str(draft_id), "primary"))
        )
    return fallback(text), body


# ---------------------------------------------------------------------------- modals
def _input(block_id: str, label: str, element: dict[str, Any], optional: bool = False) -> Block:
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, 2_000),
        "element": element,
        "optional": optional,
    }


def _text_input(action_id: str, *, multiline: bool = False, initial: str = "") -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": action_id, "multiline": multiline}
    if initial:
        element["initial_value"] = initial[:3_000]
    return element


def _fact_element(fact: str) -> dict[str, Any]:
    if fact in FACT_CHOICES:
        return {
            "type": "static_select",
            "action_id": fact,
            "options": [option(v, label) for v, label in FACT_CHOICES[fact]],
        }
    return _text_input(fact, multiline=fact == "error_text")


def report_modal(*, initial_text: str = "", private_metadata: str = "") -> dict[str, Any]:
    """/tierline report and the "Report to IT" shortcut: file a ticket directly."""
    return {
        "type": "modal",
        "callback_id": REPORT_VIEW,
        "private_metadata": private_metadata[:3_000],
        "title": plain("Report to IT", 24),
        "submit": plain("File ticket", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            _input(
                "subject", "Short summary", _text_input("subject", initial=initial_text.split("\n")[0][:150])
            ),
            _input("details", "What happened?", _text_input("details", multiline=True, initial=initial_text)),
            _input("device", FACT_LABELS["device"], _fact_element("device"), optional=True),
            _input("error_text", FACT_LABELS["error_text"], _fact_element("error_text"), optional=True),
            _input("impact", FACT_LABELS["impact"], _fact_element("impact"), optional=True),
            _input("urgency", FACT_LABELS["urgency"], _fact_element("urgency"), optional=True),
        ],
    }


def details_modal(number: str, missing: Sequence[str]) -> dict[str, Any]:
    """Ask only for the facts the ticket is missing."""
    return {
        "type": "modal",
        "callback_id": DETAILS_VIEW,
        "private_metadata": number,
        "title": plain(f"Details for {number}", 24),
        "submit": plain("Save", 24),
        "blocks": [
            _input(fact, FACT_LABELS.get(fact, fact), _fact_element(fact), optional=True)
            for fact in missing
            if fact in FACT_LABELS
        ]
        or [section("Nothing is missing; thank you.")],
    }


def note_modal(number: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": NOTE_VIEW,
        "private_metadata": number,
        "title": plain("Internal note", 24),
        "submit": plain("Add note", 24),
        "blocks": [
            context(f"Only engineers see this note on *{number}*; it is never sent to the requester."),
            _input("note", "Note", _text_input("note", multiline=True)),
        ],
    }


def resolve_modal(number: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": RESOLVE_VIEW,
        "private_metadata": number,
        "title": plain(f"Resolve {number}", 24),
        "submit": plain("Resolve", 24),
        "blocks": [
            _input(
                "resolution",
                "What fixed it? (the requester sees this)",
                _text_input("resolution", multiline=True),
            )
        ],
    }


def escalate_modal(number: str) -> dict[str, Any]:
    """The reason is required: the next tier reads it first."""
    return {
        "type": "modal",
        "callback_id": ESCALATE_VIEW,
        "private_metadata": number,
        "title": plain(f"Escalate {number}", 24),
        "submit": plain("Escalate", 24),
        "blocks": [
            _input("reason", "Why does it need the next tier?", _text_input("reason", multiline=True))
        ],
    }


def wait_modal(number: str) -> dict[str, Any]:
    """Ask the requester something and pause the SLA clock until they answer."""
    return {
        "type": "modal",
        "callback_id": WAIT_VIEW,
        "private_metadata": number,
        "title": plain(f"Ask about {number}", 24),
        "submit": plain("Send", 24),
        "blocks": [
            context("The requester sees this in their thread; the SLA clock pauses until they reply."),
            _input("question", "Question for the requester", _text_input("question", multiline=True)),
        ],
    }


def declare_modal(alert_id: int, *, title: str, message: str, where: str = "") -> dict[str, Any]:
    """Declare a major incident from a spike alert: a title and the first message to every requester.

    `where` ("channel|ts" of the alert message) lets the submission update that message.
    """
    return {
        "type": "modal",
        "callback_id": DECLARE_VIEW,
        "private_metadata": f"{alert_id}|{where}" if where else str(alert_id),
        "title": plain("Major incident", 24),
        "submit": plain("Declare", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            context("Links every ticket of the alert and tells each requester at once."),
            _input("title", "Title", _text_input("title", initial=title[:150])),
            _input(
                "message",
                "First update to the requesters",
                _text_input("message", multiline=True, initial=message),
            ),
        ],
    }


def home_view(sections: Sequence[tuple[str, Sequence[str]]]) -> dict[str, Any]:
    """App Home: a header and a list per section, cut to fit Home's 100 blocks."""
    blocks: list[Block] = []
    for title, lines in sections:
        blocks.append({"type": "header", "text": plain(title, 150)})
        if lines:
            blocks.extend(section(line) for line in lines)
        else:
            blocks.append(context("Nothing here."))
        blocks.append({"type": "divider"})
    return {"type": "home", "blocks": fit(blocks, limit=MAX_VIEW_BLOCKS)}
