"""Facts an engineer needs, found in free text by rules; anything not clearly stated stays None.

Rules rather than a model: the facts are short, closed-vocabulary answers, and a wrong guess would
stop the assistant from asking the question at all. So every pattern here is deliberately narrow.

Every pattern is compiled with re.ASCII: Python counts CJK characters as word characters, so a
Unicode \b never falls between "上" and "Outlook" and "我的MacBook上Outlook 16.8报错0x800CCC0E"
would yield nothing. With ASCII word boundaries a Latin token ends where the Chinese text begins.
Device names need a boundary on both sides ("screenshot" is not a screen, "tokens" in a log are
not a security key).
"""

from __future__ import annotations

import re

from classifier.priority import reports_widespread_outage
from classifier.types import FACT_NAMES, Facts

_FLAGS = re.IGNORECASE | re.ASCII

_DEVICES: tuple[tuple[str, str], ...] = (
    (r"mac ?book(?: pro| air)?", "MacBook"),
    (r"i ?mac", "iMac"),
    (r"mac(?! ?address)", "Mac"),
    (r"iphone", "iPhone"),
    (r"ipad", "iPad"),
    (r"android(?: phone)?", "Android phone"),
    (r"chromebook", "Chromebook"),
    (r"thinkpad|latitude|elitebook|surface(?: pro| laptop)?", "laptop"),
    (r"laptops?|notebooks?", "laptop"),
    (r"desktop|workstation|pc", "desktop"),
    (r"(?:work |office |company )?computer", "computer"),
    (r"docking station|dock", "docking station"),
    (r"monitors?|screens?|displays?", "monitor"),
    (r"printers?|copiers?|scanners?", "printer"),
    (r"headsets?|headphones?|webcam|camera", "headset/camera"),
    (r"keyboard|mouse", "keyboard/mouse"),
    (r"(?:mobile|cell|desk|smart) ?phone|phone", "phone"),
    (r"yubikey|security key|(?:hardware|security|rsa) token", "security key"),
    (r"router|network switch|access point|wi-?fi router", "network device"),
)
# Chinese words have no word boundaries to look for.
_DEVICES_ZH: tuple[tuple[str, str], ...] = (
    (r"笔记本", "laptop"),
    (r"台式机", "desktop"),
    (r"电脑", "computer"),
    (r"显示器|屏幕", "monitor"),
    (r"打印机|复印机|扫描仪", "printer"),
    (r"耳机|摄像头", "headset/camera"),
    (r"键盘|鼠标", "keyboard/mouse"),
    (r"手机", "phone"),
    (r"路由器", "network device"),
)
_DEVICE_RE = [(re.compile(rf"\b(?:{p})\b", _FLAGS), name) for p, name in _DEVICES] + [
    (re.compile(p), name) for p, name in _DEVICES_ZH
]

_APPS = (
    r"office|outlook|teams|excel|word|zoom|slack|chrome|firefox|edge|safari|java|python|sap"
    r"|acrobat|reader|vpn client|anyconnect|globalprotect"
)
# Apps named plainly enough to count as "the app" in a question; "office", "word" and "reader"
# are everyday words too ("the office Wi-Fi"), so they do not count on their own.
_NAMED_APP_RE = re.compile(
    r"\b(?:outlook|teams|excel|powerpoint|onenote|onedrive|sharepoint|zoom|slack|chrome|firefox"
    r"|safari|sap|acrobat|visio|anyconnect|globalprotect|ms word|microsoft word)\b",
    _FLAGS,
)
# Operating systems by name: their versions ("Windows 11", "iOS 17") also say the kind of device.
_OS_NAMES = r"(?:windows|win|macos|mac os x?|os x|ios|ipados|android|ubuntu|debian|fedora|rhel|chrome ?os)"
_VERSION_RES: tuple[re.Pattern[str], ...] = (
    re.compile(
        rf"\b({_OS_NAMES}"
        r"\s?(?:\d+(?:\.\d+){0,3}|xp|vista|sonoma|ventura|monterey|sequoia|big sur))\b",
        _FLAGS,
    ),
    # "Outlook 16.8", "Teams version 1.6", "Outlook for Mac 16.80"
    re.compile(
        rf"\b((?:{_APPS})(?: for (?:mac|windows|ios|android))?\s+(?:v(?:ersion)?\s?)?\d+(?:\.\d+){{0,3}})\b",
        _FLAGS,
    ),
    re.compile(r"\b(?:version|ver\.?|build|release)\s*:?\s*(v?\d+(?:\.\d+){1,3}[a-z0-9-]*)\b", _FLAGS),
    re.compile(r"\b(v\d+(?:\.\d+){1,3})\b", _FLAGS),
)

# An apostrophe between letters ("can't", Slack's "can’t") is part of a word, never a quote mark.
_APOSTROPHE = r"(?<=[A-Za-z])['’](?=[A-Za-z])"
_QUOTED = (
    r"(?:\"([^\"\n]{3,200})\""  # "straight"
    r"|“([^”\n]{3,200})”"  # “curly”, as Slack sends them
    rf"|(?<![A-Za-z])['‘]((?:[^'‘’\n]|{_APOSTROPHE}){{3,200}}?)['’](?![A-Za-z]))"  # 'single'
)
_ERROR_RES: tuple[re.Pattern[str], ...] = (
    # Quoted message after an error word: error "Access denied", says 'cannot connect'.
    re.compile(
        rf"(?:error|message|says|saying|shows|showing|popup|pop-up|dialog|报错|提示)"
        rf"(?:[^\"“‘'\n]|{_APOSTROPHE}){{0,30}}?{_QUOTED}",
        _FLAGS,
    ),
    re.compile(r"\b(0x[0-9a-f]{4,8})\b", _FLAGS),
    re.compile(r"\b((?:error|err)\s*(?:code)?\s*[:#]?\s*[A-Z]*-?\d{2,6})\b", _FLAGS),
    re.compile(r"\b(HTTP\s*[45]\d\d|[45]0[0-9] (?:error|forbidden|not found|unauthorized))\b", _FLAGS),
    re.compile(r"^[ \t]*(?:error|exception)[ \t]*:[ \t]*(.{3,200})$", _FLAGS | re.MULTILINE),
    # A pasted log line at an error level: "2025-03-04 10:01 [ERROR] AnyConnect: disconnected (DPD)".
    # Upper case only: in prose "error" is a word, in a log ERROR is the level.
    re.compile(
        r"(?:^|[ \t\]|])(?:\[(?:ERROR|FATAL|CRITICAL|SEVERE|E)\]|(?:ERROR|FATAL|CRITICAL|SEVERE)\b:?)"
        r"[ \t:-]*(\S.{2,199}?)[ \t]*$",
        re.ASCII | re.MULTILINE,
    ),
    # An unquoted message after "it says": "it says access denied when I open the S: drive". Only
    # when the words read like an error, so "it shows my calendar twice" is no error text.
    re.compile(
        r"\b[\w-]+ (?:just |only |then |now |still )?(?:says|said|shows|showed|displays|comes up with"
        r"|pops up with|reads)"
        r" (?:an? )?(?:error )?(?:message )?(?:of |that )?"
        r"([^.,;!?\n\"“”]{0,40}?\b(?:denied|error|fail(?:ed|ure)?|invalid|expired|not found|unable"
        r"|cannot|can['’]t|couldn['’]t|unavailable|refused|forbidden|timed out|time ?out"
        r"|(?:not )?authori[sz]ed|incorrect|blocked|locked|disconnected|went wrong|no signal"
        r"|stopped working|not responding|(?:has|needs) to close|a problem)\b"
        r"[^.,;!?\n\"“”]{0,40}?)"
        r"(?=\s+(?:when|whenever|every|each|if|after|since|on|in|for|and|but)\b|[.,;!?\n]|$)",
        _FLAGS,
    ),
    # A status shown instead of a message: "the printer says offline", "it shows as not connected".
    # Only straight after the verb: "Teams shows my status as offline" is about presence, not a fault.
    re.compile(
        r"\b[\w-]+ (?:just |now |still )?(?:says|said|shows|showed|displays) (?:as |it(?:['’]s| is) )?"
        r"((?:printer |device )?(?:offline|not connected|no internet(?: access)?|no connection))\b",
        _FLAGS,
    ),
    # A stack trace's exception line, Java, Python or .NET: "javax.net.ssl.SSLHandshakeException:
    # PKIX path building failed", "ValueError: invalid literal". Its first line is what engineers search.
    re.compile(
        r"\b((?:[A-Za-z_$][\w$]*\.)*[A-Z][\w$]*(?:Exception|Error)\b(?::[ \t]*[^\n]{1,200})?)", re.ASCII
    ),
)

# Typographic apostrophes are what Slack clients usually send ("can’t"), so match both.
_NT = r"n['’]t"
# Named departments are ordinary business vocabulary in any organisation, not one company's. Words
# that double as everyday nouns or pronouns ("IT", "accounts", "design") are left out: "all of it
# is gone" says nothing about who is affected.
_DEPARTMENT = (
    r"(?:sales|marketing|finance|accounting|payroll|hr|human resources|legal"
    r"|customer (?:service|support)|engineering|operations|procurement|purchasing|logistics"
    r"|reception|the (?:it|support|helpdesk|service desk) (?:team|department))"
)
_GROUP = r"(?:floor|building|department|dept|site|branch|division|unit|location)"

# "Everyone in the office" usually means the workplace as a whole, so it stays "everyone", while
# a floor, a building or a named department is "many".
# The first matching rule wins, so narrower phrasings come before broader ones: "only me, everyone
# else is fine" is one person, "everyone in my team" a team, "everyone in sales" a department, and
# only an unqualified "everyone" everyone.
_IMPACT_RULES: tuple[tuple[str, str], ...] = (
    (
        r"\b(only me|just me|only for me|only my (?:laptop|account|machine|computer)"
        r"|nobody else|no one else)\b"
        # "everyone else is fine" is one person; "everyone else on my team has it" is not.
        r"|\b(?:everyone|everybody) else(?: [\w'’-]+){0,4}? (?:is|are|seems?|works?|can)"
        r" (?:fine|ok|okay|working|unaffected|normal|not affected|print|connect|log ?in)\b"
        r"|只有我|就我一个|仅我",
        "one",
    ),
    (
        r"\b(?:everyone|everybody|all of us|all members|the rest of us)(?: else)?"
        r" (?:in|on|of|from) (?:my|our|the) team\b"
        r"|\b(?:my|our) (?:whole |entire )?team\b|\b(?:whole|entire) team\b",
        "team",
    ),
    (
        rf"\b(?:everyone|everybody|all (?:users|staff|employees|people)) (?:in|on|at|from|of) "
        rf"(?:the |our |this |my )?(?:(?:whole|entire) office|(?:[\w-]+ )?{_GROUP}|{_DEPARTMENT}\b)"
        rf"|\ball of (?:the )?(?:office|{_GROUP}|{_DEPARTMENT}\b)"
        rf"|\b(?:whole|entire) (?:office|{_GROUP}|{_DEPARTMENT} (?:team|department|dept))\b"
        r"|\b(?:many|lots of|a lot of|most) (?:users|people|colleagues|of us)\b"
        r"|\b(?:several|multiple|many) (?:teams|departments|offices)\b"
        rf"|\b(?:nobody|no ?one|none of us) (?:in|on|at|from) (?:the |our |this |my )?"
        rf"(?:(?:[\w-]+ )?{_GROUP}|{_DEPARTMENT}\b)"
        r"|所有人|全部门|整个部门|整个团队|整个办公室|整层楼|很多人|好多人|大家都",
        "many",
    ),
    (
        r"\b(everyone|everybody|all (?:users|staff|employees)|whole company|entire company|company-wide"
        r"|site[- ]wide|all offices|nobody in the company|no one in the company|the whole organi[sz]ation)\b"
        # "nobody can log in", "no one in the office can print"; "nobody can hear me" is one person.
        r"|\b(?:nobody|no ?one|none of us)(?: (?:in|at) (?:the |our |this )?(?:office|company))?"
        r" (?:can|is able)(?! (?:to )?\w+ (?:me|my)\b)"
        r"|全公司|整个公司",
        "everyone",
    ),
    (
        r"\b(the team|our department"
        r"|several (?:people|colleagues|users)"
        r"|a few (?:people|colleagues|users)|my colleagues|me and (?:my|a) (?:colleague|coworker)s?)\b"
        r"|几个同事|我们组|同事也",
        "team",
    ),
)
_IMPACT_RE = [(re.compile(p, _FLAGS), v) for p, v in _IMPACT_RULES]

# Negated forms come first: "there is no workaround" means blocked, and "not urgent" / "not a
# blocker" mean low even though they contain the words "urgent" and "blocker".
_URGENCY_RULES: tuple[tuple[str, str], ...] = (
    (
        rf"\b(?:no|without(?: a| any)?|(?:do|does|did){_NT} have(?: a| any)?"
        r"|(?:do|does) not have(?: a| any)?)"
        r" (?:known |real |good )?work-? ?arounds?\b|\bno way (?:around|to work around)\b"
        r"|没有(?:临时|替代)(?:办法|方案)|没有别的办法",
        "blocking",
    ),
    (
        rf"\b(?:not|is{_NT}|it['’]?s not) (?:very |really |that |too |super )?"
        r"(?:urgent|blocking|critical|a blocker)\b"
        r"|\b(?:no rush|whenever (?:you|convenient|possible|there['’]?s time)|low priority"
        r"|at your convenience"
        r"|when you (?:have|get) (?:a )?(?:time|chance|moment)|no hurry|nice to have|not time[- ]sensitive"
        r"|not in a hurry|can wait)\b"
        r"|不急|不着急|不紧急|不影响工作|有空(?:再|的时候)",
        "low",
    ),
    (
        rf"\b(?:can ?not|ca{_NT}|cannot|unable to|(?:am|i['’]m) not able to)"
        r" (?:work|do (?:my|our|any) (?:job|work)|do anything|get (?:any )?work done"
        r"|log ?in(?:to)?|sign in(?:to)?|access)\b"
        r"|\bblock(?:s|ed|ing|er)\b|\b(?:urgent|urgently|asap|immediately|emergency)\b"
        r"|\bcompletely (?:down|stuck)\b|\bnothing (?:works|is working|working)\b|\bstuck\b"
        r"|\b(?:stopped|stops) me from working\b"
        r"|\b(?:nobody|no ?one|none of us)(?: (?:in|on|at|from) (?:the |our |this )?[\w-]+(?: [\w-]+)?)?"
        r" (?:can|is able to|are able to) (?:work|get (?:any )?work done|do (?:any|our) (?:job|work))\b"
        r"|\bniemand kann arbeiten\b"
        r"|无法工作|没法工作|不能工作|紧急|很急|急用|马上要用",
        "blocking",
    ),
    (
        r"\bwork-?around\b|\bin the meantime\b|\bfor now i (?:can|use)\b|\bstill able to\b|\bcan still\b"
        # "I can use webmail", "we can use a colleague's laptop": another way to get the work done
        r"|\b(?:i|we) can (?:always )?use (?:the |my |our |a |an )?(?:web|webmail|owa|browser|phone"
        r"|mobile|laptop|desktop|pc|computer|colleague['’]?s?|different|another|other|spare|loaner|backup)\b"
        r"|临时办法|暂时可以|先用|还能用|还可以用|(?<![不没])(?:可以|能)用(?:网页版|手机|别的|其他|其它|另一|备用|同事)",
        "workaround",
    ),
)
_URGENCY_RE = [(re.compile(p, _FLAGS), v) for p, v in _URGENCY_RULES]


# What a service request says: the person wants something provided, not something fixed. Error
# text, versions and who else is affected mean nothing for "I need a new monitor" or "please
# grant me access to the finance share", and asking for them reads as a form nobody read.
_REQUEST_RE = re.compile(
    r"\b(?:i|we) (?:need|want|would like|['’]d like)\b"
    r"|\b(?:can|could|may) (?:i|we) (?:please )?(?:get|have|order|request)\b"
    r"|\b(?:can|could) (?:you|someone|somebody) (?:please )?"
    r"(?:give|grant|provide|order|create|set ?up|add|install|enable|share|send)\b"
    r"|\bplease (?:give|grant|provide|order|create|set ?up|add|install|enable|share|send)\b"
    r"|\brequest(?:ing|ed)?\b|\bnew (?:starter|joiner|hire|employee|colleague)s?\b"
    r"|\bhow (?:do|can) (?:i|we) (?:get|request|order)\b|\b(?:on|off)boarding\b"
    r"|申请|开通|领取|想要|需要(?:一个|一台|一部|新的|个|台)",
    _FLAGS,
)
# What a fault says. It wins over request wording: "I need help, Outlook keeps crashing" is a fault.
_FAULT_RE = re.compile(
    r"\b(?:errors?|fail(?:s|ed|ing|ure)?|crash(?:es|ed|ing)?|broken|break(?:s|ing)?|bugs?|glitch"
    r"|(?:doesn|don|won|isn|aren|can|couldn|wasn|didn)['’]?t|cannot|can not|unable|stopped|keeps?"
    r"|(?:does|do|did|will|is|are|was|could) not"  # the same, spelled out
    r"|freez(?:e|es|ing)|frozen|hang(?:s|ing)?|slow|stuck|lost|missing|disappeared|wrong|denied"
    r"|locked out|expired|flicker(?:s|ing)?|nois(?:e|y)|loud|overheat(?:s|ing)?|jam(?:s|med)?"
    r"|down|outage|disconnect(?:s|ed|ing)?|drops?|dropping|problems?|issues?|blue screen|bsod"
    r"|black screen|virus|malware|phish(?:ing)?|hacked"
    r"|no (?:signal|sound|audio|picture|image|video|display|power|connection|connectivity|internet"
    r"|network|wi-?fi|dial tone)|not (?:working|responding|loading|opening"
    r"|starting|connecting|syncing|printing|charging|showing|turning on|receiving|sending))\b"
    r"|无法|不能|报错|错误|失败|打不开|开不了机|卡纸|缺纸|连不上|登不上|坏了|很慢|卡住|死机|蓝屏|黑屏|没反应|异常|故障|问题",
    _FLAGS,
)
# An OS version says what kind of device it runs on ("Windows 11": a PC), which is what asking
# for the device would tell the engineer.
_OS_VERSION_RE = re.compile(rf"^{_OS_NAMES}\b", _FLAGS)
# Devices with no OS or app of their own worth asking the version of.
_VERSIONLESS_DEVICES = frozenset({"monitor", "keyboard/mouse"})
# Paper, toner and ink: a printer's mechanics, which no app or OS version has a say in.
_PRINTER_MECHANICS_RE = re.compile(
    r"\b(?:jam(?:s|med|ming)?|paper|toner|ink|cartridge|drum|fuser|tray|smudg\w*|streak\w*)\b"
    r"|卡纸|缺纸|墨粉|墨盒|硒鼓|纸盒",
    _FLAGS,
)
# A device that does not power on shows no OS to take a version from and no message to quote.
_NO_POWER_RE = re.compile(
    rf"\b(?:wo{_NT}|wont|will not|does{_NT}|doesnt|does not|ca{_NT}|cant|cannot|can not)"
    r" (?:turn on|power on|switch on|power up|boot(?: up)?)\b"
    r"|\bnot (?:turning|powering|switching) on\b|\bno (?:power|lights?|signs? of life)\b"
    r"|\b(?:completely|totally|is|seems|went) dead\b"
    r"|开不了机|无法开机|不能开机|开不开机|没法开机|开机没反应",
    _FLAGS,
)


# A device lost or stolen: no OS version or error message has a say, only where and when.
_CARRIED = (
    r"(?:laptop|notebook|phone|mobile|smartphone|iphone|ipad|tablet|macbook|computer|pc|yubikey"
    r"|security key|token|badge|access card|hard drive|usb stick)"
)
_LOSS_RE = re.compile(
    rf"\b(?:lost|misplaced)\s+(?:my|our|the|a|his|her|their)\s+(?:\w+\s+)?{_CARRIED}\b"
    rf"|\b{_CARRIED}\s+(?:was|got|has been|have been|were|is|been)\s+(?:stolen|lost|nicked)\b"
    r"|\bstolen\b|(?:手机|电脑|笔记本|平板|工牌)(?:丢了|丢失|被偷|被盗)|(?:丢了|丢失)(?:了)?(?:我的)?(?:手机|电脑|笔记本)",
    _FLAGS,
)


def reports_loss(text: str) -> bool:
    """True when `text` says a device was lost or stolen ("I lost my phone", "laptop was stolen")."""
    return bool(_LOSS_RE.search(text))


def names_app(text: str) -> bool:
    """True when `text` names the app it is about ("Excel freezes", "Teams has no sound"), so a
    question back need not ask which app."""
    return bool(_NAMED_APP_RE.search(text))


def will_not_power_on(text: str) -> bool:
    """True when `text` says a device does not power on ("won't turn on", "no lights", "开不了机")."""
    return bool(_NO_POWER_RE.search(text))


def describes_fault(text: str) -> bool:
    """True when `text` says something is wrong ("broken", "doesn't work", "error", "无法")."""
    return bool(_FAULT_RE.search(text))


def is_service_request(text: str) -> bool:
    """True when `text` asks for something to be provided and describes no fault."""
    return bool(_REQUEST_RE.search(text)) and not describes_fault(text)


def facts_to_ask(text: str, known: Facts) -> tuple[str, ...]:
    """The facts still worth asking about `text`: those not given that an engineer would use.

    A service request is asked none of them; a fault on a monitor or a keyboard is not asked for
    an app or OS version, nor is a paper jam or toner on a printer; an OS version given ("Windows
    11") says the device; a device that will not power
    on, or one lost or stolen, is not asked for a version or an error message;
    an outage that hits many people ("the CRM is down for everyone") is not asked for one
    person's device or version, which tell its engineers nothing. Everything else not yet given
    is asked, in `FACT_NAMES` order.
    """
    if is_service_request(text):
        return ()
    skipped = {"device", "software_version"} if reports_widespread_outage(text) else set()
    if known.device in _VERSIONLESS_DEVICES:
        skipped.add("software_version")
    if known.software_version is not None and _OS_VERSION_RE.match(known.software_version):
        skipped.add("device")
    if (known.device is not None and will_not_power_on(text)) or reports_loss(text):
        skipped |= {"software_version", "error_text"}
    if known.device == "printer" and _PRINTER_MECHANICS_RE.search(text):
        skipped.add("software_version")
    return tuple(name for name in FACT_NAMES if getattr(known, name) is None and name not in skipped)


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
        if match:  # the first group that took part (the quote patterns have one per quote style)
            return next(g for g in match.groups() if g is not None).strip()
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
