"""Facts an engineer needs, found in free text by rules; anything not clearly stated stays None.

Rules rather than a model: the facts are short, closed-vocabulary answers, and a wrong guess would
stop the assistant from asking the question at all. So every pattern here is deliberately narrow.
"""

from __future__ import annotations

import re

from classifier.types import Facts

_DEVICES: tuple[tuple[str, str], ...] = (
    (r"mac ?book(?: pro| air)?", "MacBook"),
    (r"i ?mac", "iMac"),
    (r"iphone", "iPhone"),
    (r"ipad", "iPad"),
    (r"android(?: phone)?", "Android phone"),
    (r"chromebook", "Chromebook"),
    (r"thinkpad|latitude|elitebook|surface(?: pro| laptop)?", "laptop"),
    (r"laptop|notebook", "laptop"),
    (r"desktop|workstation|\bpc\b", "desktop"),
    (r"docking station|dock\b", "docking station"),
    (r"monitors?|screens?|displays?", "monitor"),
    (r"printers?|copiers?|scanners?", "printer"),
    (r"headsets?|headphones?|webcam|camera", "headset/camera"),
    (r"keyboard|mouse", "keyboard/mouse"),
    (r"(?:mobile|cell|desk|smart) ?phone|phone", "phone"),
    (r"yubikey|security key|token", "security key"),
    (r"router|switch|access point|wi-?fi router", "network device"),
)
_DEVICE_RE = [(re.compile(rf"\b(?:{p})", re.IGNORECASE), name) for p, name in _DEVICES]

_VERSION_RES: tuple[re.Pattern[str], ...] = (
    re.compile(
        r"\b((?:windows|win|macos|mac os x?|os x|ios|ipados|android|ubuntu|debian|fedora|rhel|chrome ?os)"
        r"\s?(?:\d+(?:\.\d+){0,3}|xp|vista|sonoma|ventura|monterey|sequoia|big sur))\b",
        re.IGNORECASE,
    ),
    re.compile(
        r"\b((?:office|outlook|teams|excel|word|zoom|slack|chrome|firefox|edge|safari|java|python|sap|"
        r"acrobat|reader|vpn client|anyconnect|globalprotect)\s+(?:v(?:ersion)?\s?)?\d+(?:\.\d+){0,3})\b",
        re.IGNORECASE,
    ),
    re.compile(r"\b(?:version|ver\.?|build|release)\s*:?\s*(v?\d+(?:\.\d+){1,3}[a-z0-9-]*)\b", re.IGNORECASE),
    re.compile(r"\b(v\d+(?:\.\d+){1,3})\b", re.IGNORECASE),
)

_ERROR_RES: tuple[re.Pattern[str], ...] = (
    # Quoted message after an error word: error "Access denied", says 'cannot connect'.
    re.compile(
        r"(?:error|message|says|saying|shows|showing|popup|pop-up|dialog)[^\"'“‘\n]{0,30}[\"'“‘]([^\"'”’\n]{3,200})[\"'”’]",
        re.IGNORECASE,
    ),
    re.compile(r"\b(0x[0-9a-f]{4,8})\b", re.IGNORECASE),
    re.compile(r"\b((?:error|err)\s*(?:code)?\s*[:#]?\s*[A-Z]*-?\d{2,6})\b", re.IGNORECASE),
    re.compile(r"\b(HTTP\s*[45]\d\d|[45]0[0-9] (?:error|forbidden|not found|unauthorized))\b", re.IGNORECASE),
    re.compile(r"^\s*(?:error|exception)\s*:\s*(.{3,200})$", re.IGNORECASE | re.MULTILINE),
)

_IMPACT_RULES: tuple[tuple[str, str], ...] = (
    (
        r"\b(everyone|everybody|all (?:users|staff|employees)|whole company|entire company|company-wide"
        r"|site[- ]wide|all offices|nobody in the company)\b",
        "everyone",
    ),
    (
        r"\b(many (?:users|people|colleagues)|several teams|multiple teams"
        r"|whole (?:office|floor|building|department)"
        r"|entire (?:office|floor|building|department)|all of (?:the )?(?:office|floor|building))\b",
        "many",
    ),
    (
        r"\b(my team|our team|whole team|entire team|the team|our department"
        r"|several (?:people|colleagues|users)"
        r"|a few (?:people|colleagues|users)|my colleagues)\b",
        "team",
    ),
    (
        r"\b(only me|just me|only for me|only my (?:laptop|account|machine|computer)"
        r"|nobody else|no one else)\b",
        "one",
    ),
)
_IMPACT_RE = [(re.compile(p, re.IGNORECASE), v) for p, v in _IMPACT_RULES]

_URGENCY_RULES: tuple[tuple[str, str], ...] = (
    (
        r"\b(can ?not|can't|cannot|unable to)"
        r" (?:work|do (?:my|our|any) (?:job|work)|log ?in|sign in|access)\b"
        r"|\bblock(?:ed|ing|er)\b|\b(?:urgent|asap|immediately|emergency)\b|\bcompletely (?:down|stuck)\b",
        "blocking",
    ),
    (
        r"\bwork-?around\b|\bin the meantime\b|\bfor now i (?:can|use)\b|\bstill able to\b|\bcan still\b",
        "workaround",
    ),
    (
        r"\b(no rush|not urgent|whenever (?:you|convenient)|low priority"
        r"|when you (?:have|get) (?:a )?(?:time|chance)"
        r"|no hurry|nice to have)\b",
        "low",
    ),
)
_URGENCY_RE = [(re.compile(p, re.IGNORECASE), v) for p, v in _URGENCY_RULES]


def _first_device(text: str) -> str | None:
    best: tuple[int, str] | None = None
    for pattern, name in _DEVICE_RE:
        match = pattern.search(text)
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), name)
    return best[1] if best else None


def _first(patterns: tuple[re.Pattern[str], ...], text: str) -> str | None:
    for pattern in patterns:
        match = pattern.search(text)
        if match:
            return match.group(1).strip()
    return None


def _first_rule(rules: list[tuple[re.Pattern[str], str]], text: str) -> str | None:
    for pattern, value in rules:
        if pattern.search(text):
            return value
    return None


def extract_facts(text: str) -> Facts:
    """Device, software version, error text, impact and urgency when the text states them."""
    return Facts(
        device=_first_device(text),
        software_version=_first(_VERSION_RES, text),
        error_text=_first(_ERROR_RES, text),
        impact=_first_rule(_IMPACT_RE, text),
        urgency=_first_rule(_URGENCY_RE, text),
    )


def merge_facts(known: Facts | None, found: Facts) -> Facts:
    """Answers already given win over what the rules found in the text."""
    if known is None:
        return found
    return Facts(
        device=known.device if known.device is not None else found.device,
        software_version=known.software_version
        if known.software_version is not None
        else found.software_version,
        error_text=known.error_text if known.error_text is not None else found.error_text,
        impact=known.impact if known.impact is not None else found.impact,
        urgency=known.urgency if known.urgency is not None else found.urgency,
        extra={**found.extra, **known.extra},
    )
