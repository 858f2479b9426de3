"""Priority the ITIL way: impact × urgency → priority, plus the outage wording that raises a guess.

Pure functions so callers (the engine, a routing file) can swap the matrix without touching the model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

PRIORITIES: tuple[str, ...] = ("critical", "high", "medium", "low")  # most urgent first
IMPACTS: tuple[str, ...] = ("one", "team", "many", "everyone")
URGENCIES: tuple[str, ...] = ("low", "workaround", "blocking")

PriorityMatrix = Mapping[tuple[str, str], str]

# Rows: how many people are affected; columns: can they work at all.
DEFAULT_MATRIX: dict[tuple[str, str], str] = {
    ("one", "low"): "low",
    ("one", "workaround"): "low",
    ("one", "blocking"): "medium",
    ("team", "low"): "low",
    ("team", "workaround"): "medium",
    ("team", "blocking"): "high",
    ("many", "low"): "medium",
    ("many", "workaround"): "high",
    ("many", "blocking"): "critical",
    ("everyone", "low"): "medium",
    ("everyone", "workaround"): "high",
    ("everyone", "blocking"): "critical",
}

# Wording that means "people cannot work", by kind (how many are hit, something is down, no one
# can work, production or data at stake), in English, German and Chinese: each kind found raises
# a model's guess by one level, at most two. CJK has no word boundaries, so its alternatives
# stand alone.
_OUTAGE_KINDS: tuple[tuple[str, ...], ...] = (
    (
        # "the whole sales team", "the entire finance department": a group named in between.
        r"\b(everyone|everybody|all (?:users|staff|employees|of us)"
        r"|(?:whole|entire) (?:[\w-]+ )?(?:company|office|floor|team|department|dept|building|site)"
        # "nobody can log in" is everyone; "nobody can hear me" is one person's microphone.
        # "no one on the 3rd floor can print" too.
        r"|(?:nobody|no ?one|none of us)(?: (?:in|on|at|from) (?:the |our |this )?[\w-]+(?: [\w-]+)?)?"
        r" (?:can|is able)(?! (?:to )?\w+ (?:me|my)\b))\b",
        r"\b(alle (?:mitarbeiter\w*|kollegen|kolleginnen|benutzer\w*|nutzer\w*|user)"
        r"|(?:die )?ganze (?:firma|abteilung|etage)|das ganze (?:büro|team|unternehmen)"
        r"|niemand kann(?! (?:mich|mir|mein\w*)\b))\b",
        r"所有人|大家都|全公司|整个(?:公司|部门|办公室|楼层?|学校)|全体|没有人能(?![^，。,.\s]{0,4}我)",
    ),
    (
        r"\b(is|are|went|gone|goes|completely)\s+down\b|\boutage\b"
        r"|\bnot (?:working|responding) for (?:anyone|everyone)\b",
        r"\b(ausgefallen|ausfall|komplett down|geht (?:gar )?nichts mehr)\b",
        r"宕机|瘫痪|中断|挂了|断网|全部无法",
    ),
    (
        r"\b(can ?not|can't|cannot|unable to)"
        r" (?:work|log ?in|access anything|do (?:my|our|any) (?:job|work))\b",
        r"\b(k(?:ö|oe)nnen|kann) (?:nicht|nicht mehr) arbeiten\b",
        r"无法(?:工作|办公|上网)|不能(?:工作|办公|上网)|没法(?:工作|办公)",
    ),
    (
        r"\b(production|prod) (?:is )?(?:down|outage|broken)\b|\bsite[- ]wide\b|\bdata loss\b",
        r"\b(produktion steht|datenverlust)\b",
        r"生产(?:环境|系统)?(?:宕机|故障|挂了)|数据丢失",
    ),
)
_OUTAGE_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile("|".join(kind), re.IGNORECASE) for kind in _OUTAGE_KINDS
)
# "not everyone", "only my laptop", "just me": the person says the problem is theirs alone, and
# no outage wording elsewhere in the text outweighs that.
_ONE_PERSON = re.compile(
    r"\b(?:not (?:everyone|everybody|all)|only (?:me|my|mine|i|for me)|just (?:me|my|mine|for me)"
    r"|nur (?:ich|bei mir|mein))\b|只有我|仅我|就我",
    re.IGNORECASE,
)


# Wording that says an account or a device may be in an attacker's hands: a password typed into
# a phishing page, malware, "someone else signed in as me". Every hour counts (the attacker is
# using the access now) however few people are hit, so such a ticket is at least `COMPROMISE_FLOOR`
# whatever the model or the matrix says. A phishing email that was only received, or a question
# about running a virus scan, is no compromise.
_COMPROMISE = re.compile(
    r"\b(?:hacked|compromised|ransomware|keylogger|trojan)\b"
    r"|\b(?:got|have|has|caught|picked up|infected (?:with|by)) (?:a |an |some )?(?:virus|malware|spyware)\b"
    r"|\b(?:laptop|pc|computer|machine|phone|device) (?:is |was |got |has been )?infected\b"
    r"|\b(?:clicked|opened|entered|typed|gave|submitted)\b[^.!?\n]{0,60}"
    r"\b(?:phishing|phish|suspicious|fake|scam|dodgy|fraudulent|malicious)\b"
    r"|\b(?:phishing|phish|suspicious|fake|scam|dodgy|fraudulent|malicious)\b[^.!?\n]{0,60}"
    r"\b(?:clicked|entered|typed|gave (?:it|them) my|submitted|put in) (?:the |a |my )?"
    r"(?:link|password|credentials|login|details|code)"
    r"|\bsomeone (?:else )?(?:has )?(?:logged|signed) (?:in|into|on)(?: (?:to|as))? (?:my|me)\b"
    r"|\bunauthori[sz]ed (?:access|log ?ins?|sign[- ]?ins?|logins?)\b"
    r"|\b(?:files|documents|drive) (?:are |were |have been |got )?(?:all )?encrypted\b"
    r"|\b(?:gehackt|kompromittiert|schadsoftware|trojaner)\b"
    r"|被黑|被盗号|中毒|病毒感染|勒索|木马|(?:钓鱼|可疑)[^。！？\n]{0,20}(?:点了|点击|输入了?|填了?)"
    r"|(?:点了|点击了?|输入了?|填了?)[^。！？\n]{0,20}(?:钓鱼|可疑)",
    re.IGNORECASE,
)
COMPROMISE_FLOOR = "high"


def reports_compromise(text: str) -> bool:
    """Whether the text says an account or device may be compromised (see `_COMPROMISE`)."""
    return bool(_COMPROMISE.search(text))


def validate_matrix(matrix: PriorityMatrix) -> None:
    """A replacement matrix must cover every impact × urgency pair with a known priority."""
    for impact in IMPACTS:
        for urgency in URGENCIES:
            value = matrix.get((impact, urgency))
            if value not in PRIORITIES:
                raise ValueError(
                    f"priority matrix has no valid priority for impact={impact}, urgency={urgency}"
                )


def matrix_priority(impact: str, urgency: str, matrix: PriorityMatrix = DEFAULT_MATRIX) -> str:
    """ITIL priority for an answered impact and urgency."""
    if impact not in IMPACTS:
        raise ValueError(f"unknown impact {impact!r}; expected one of {', '.join(IMPACTS)}")
    if urgency not in URGENCIES:
        raise ValueError(f"unknown urgency {urgency!r}; expected one of {', '.join(URGENCIES)}")
    return matrix[(impact, urgency)]


def reports_widespread_outage(text: str) -> bool:
    """Whether the text says many people are hit ("the whole office", "nobody can log in") or
    uses two kinds of outage wording ("email is down, we cannot work"). One kind alone ("I can't
    log in", "my laptop is down") is as often one person's problem that a question may solve."""
    if _ONE_PERSON.search(text):
        return False
    return bool(_OUTAGE_PATTERNS[0].search(text)) or outage_signals(text) >= 2


def outage_signals(text: str) -> int:
    """How many distinct kinds of outage wording the text uses (0 means none, also when the
    person says it is theirs alone)."""
    if _ONE_PERSON.search(text):
        return 0
    return sum(1 for pattern in _OUTAGE_PATTERNS if pattern.search(text))


def raise_priority(priority: str, levels: int) -> str:
    """`priority` made more urgent by `levels` steps, capped at critical."""
    index = PRIORITIES.index(priority)
    return PRIORITIES[max(0, index - levels)]


def more_urgent(a: str, b: str) -> str:
    return a if PRIORITIES.index(a) <= PRIORITIES.index(b) else b


def decide_priority(
    model_priority: str,
    text: str,
    impact: str | None,
    urgency: str | None,
    matrix: PriorityMatrix = DEFAULT_MATRIX,
    basis: str = "model",
) -> tuple[str, str, bool]:
    """Final priority, the reason in words, and whether the ITIL matrix decided it.

    When both impact and urgency were answered, the matrix decides: the requester's answers are
    stronger evidence than wording. Otherwise the model's guess stands, raised by outage wording
    (one level per kind of signal, at most two) because under-prioritising an outage costs far
    more than over-prioritising a single user's problem. Wording raises a guess to critical only
    when it says many people are hit: "my laptop won't start, I can't work" is one person blocked,
    which the matrix itself puts below critical, and a 15-minute SLA for it would page the desk
    for every "I can't work" and push real outages down the queue. A possible compromise (a
    password typed into a phishing page, malware) is at least `COMPROMISE_FLOOR` either way.
    """
    decided, reason, by_matrix = _decide(model_priority, text, impact, urgency, matrix, basis)
    if reports_compromise(text) and more_urgent(COMPROMISE_FLOOR, decided) != decided:
        return COMPROMISE_FLOOR, f"{reason}; a possible compromise makes it {COMPROMISE_FLOOR}", by_matrix
    return decided, reason, by_matrix


def _decide(
    model_priority: str,
    text: str,
    impact: str | None,
    urgency: str | None,
    matrix: PriorityMatrix,
    basis: str,
) -> tuple[str, str, bool]:
    if impact in IMPACTS and urgency in URGENCIES:
        decided = matrix_priority(impact, urgency, matrix)
        return decided, f"impact {impact} × urgency {urgency} → {decided} ({basis}: {model_priority})", True
    signals = min(2, outage_signals(text))
    if signals:
        raised = raise_priority(model_priority, signals)
        if raised == PRIORITIES[0] and not reports_widespread_outage(text):
            raised = more_urgent(model_priority, PRIORITIES[1])
        if raised != model_priority:
            return raised, f"{basis}: {model_priority}; outage wording raised it to {raised}", False
    return model_priority, f"{basis}: {model_priority}", False
