"""What a short chat message means when it is not an IT question: feedback, a request for a person,
a greeting, thanks, an acknowledgement, or "never mind".

People rarely type the exact button labels: after an answer they say "thanks, that fixed it!",
"still not working" or "no", and at any point "can I speak to someone from IT please" or 转人工.
Searching the knowledge base with such words finds nonsense and, worse, replaces the real question.

The rules are deliberately conservative: a message is read as one of these intents only when the
*whole* message is such a phrase (with a few fillers like "ok", "thanks", "please" around it). A
real question that merely contains "thanks" ("thanks, my vpn still drops every 5 minutes") is
still a question. Whether "yes" or "no" means Solved / Not solved depends on the conversation, so
they are intents of their own and the engine decides.
"""

from __future__ import annotations

import enum
import re
import unicodedata


class Intent(enum.StrEnum):
    SOLVED = "solved"  # the answer (or something else) fixed it
    NOT_SOLVED = "not_solved"  # the answer did not help
    HUMAN = "human"  # talk to a person
    YES = "yes"  # means Solved only right after an answer
    NO = "no"  # means Not solved only right after an answer
    THANKS = "thanks"
    GREETING = "greeting"
    ACK = "ack"  # "ok", "got it": neutral
    CLOSE = "close"  # "never mind, sorted it": end the conversation without a ticket


def normalise(text: str) -> str:
    """Lower case, apostrophes dropped ("didn't" → "didnt"), punctuation and emoji as spaces."""
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "").replace("'", "")
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


# Words that may surround an intent phrase without changing it: "ok thanks, that worked!"
_LEAD = (
    r"(?:(?:ok|okay|oh|ah|great|cool|perfect|awesome|brilliant|nice|yes|yeah|yep|sure|thanks|thank you"
    r"|thx|cheers|hi|hey|hello|well|sorry|hmm|um|so|but|no|nope|unfortunately|sadly"
    # "actually, can I talk to a person" after "solved"; "just escalate it"; "in that case, no"
    r"|actually|also|just|then|in that case|instead|honestly) )*"
)
_TAIL = (
    r"(?: (?:thanks|thank you|thx|ty|cheers|a lot|so much|very much|again|now|please|pls|mate|guys"
    r"|instead|then|if possible|asap|after all))*"
)

_TARGET = (
    r"(?:a |an |the |some )?(?:real |actual |live )?"
    r"(?:human|person|agent|someone|somebody|engineer|technician|operator|representative|it person"
    r"|it support|support)"
    r"(?: (?:from|in|at|on) (?:the )?(?:it|it team|it department|it support|support|helpdesk|service desk))?"
)
_SPEAK = rf"(?:talk|speak|chat) (?:to|with) {_TARGET}"

# English phrases, matched against the whole normalised message after _LEAD and before _TAIL.
_PHRASES: tuple[tuple[Intent, str], ...] = (
    (
        Intent.HUMAN,
        rf"{_TARGET}"
        rf"|(?:please )?(?:let me |i )?(?:want|need|would like|d like|id like|wanna)(?: to)? {_SPEAK}"
        rf"|(?:can|could|may) i (?:please )?{_SPEAK}|(?:please )?{_SPEAK}"
        rf"|(?:i )?(?:want|need) {_TARGET}|(?:get|give|find) me {_TARGET}|(?:connect|put) me (?:through )?"
        rf"(?:to|with) {_TARGET}|(?:please )?escalate(?: this| it)?",
    ),
    (
        Intent.CLOSE,
        r"(?:never ?mind|nvm|forget it|no worries|dont worry|all good)"
        r"(?: (?:i |ive )?(?:sorted|fixed|figured|solved) it(?: out)?(?: myself| on my own)?"
        r"| its (?:fine|ok|okay|sorted|working)(?: now)?)?"
        r"|(?:i |ive )?(?:sorted|fixed|figured|solved) it(?: out)?(?: myself| on my own)?",
    ),
    (
        Intent.NOT_SOLVED,
        r"(?:(?:it|that|this) (?:is |s )?|its |thats )?(?:not solved|not resolved|not fixed)"
        r"|unsolved|no luck|not really|no change|no difference"
        r"|(?:that|it|this)? ?(?:didnt|did not|doesnt|does not|wont|will not) (?:work|help|fix it|solve it)"
        r"|(?:it|that|this)? ?(?:is |s )?still (?:not working|doesnt work|does not work|broken|happening"
        r"|the same|failing)|(?:it )?(?:is )?not working|(?:same|still the same) (?:problem|issue|thing)"
        r"|(?:no )?it didnt|(?:that|it) did not",
    ),
    (
        Intent.SOLVED,
        r"solved|resolved|fixed|sorted|all good|problem solved|(?:that|it|this) (?:fixed|solved|sorted) it"
        r"|(?:that|it|this) (?:worked|helped|did it|did the trick)|(?:it|that) works(?: now)?"
        r"|(?:its|it is) (?:working|fixed|solved|sorted)(?: now)?|works now|working now|yes solved",
    ),
    (Intent.NO, r"no|nope|nah|no it did not"),
    (Intent.YES, r"yes|yeah|yep|yup|yes it did|it did|correct|indeed"),
    (Intent.THANKS, r"thanks|thank you|thx|ty|cheers|many thanks|much appreciated|appreciate it"),
    (
        Intent.GREETING,
        r"(?:hi|hello|hey|hiya|howdy|good (?:morning|afternoon|evening))(?: there| team| all| everyone)?",
    ),
    (
        Intent.ACK,
        r"ok|okay|k|kk|alright|sure|got it|understood|noted|cool|fine|i see|will do"
        r"|(?:ok |okay )?(?:i ?ll|let me|i will) (?:try|check)(?: that| it| this)?",
    ),
)
_PHRASE_RES = [(intent, re.compile(rf"{_LEAD}(?:{core}){_TAIL}")) for intent, core in _PHRASES]

# Chinese has no spaces, so these match the whole message with optional polite words around.
_ZH_LEAD = r"(?:好的|好|嗯|哦|谢谢|请|麻烦|您好|你好)*"
_ZH_TAIL = r"(?:谢谢|谢谢你|谢谢您|吧|了|啊|呢|一下)*"
_ZH_PHRASES: tuple[tuple[Intent, str], ...] = (
    (
        Intent.HUMAN,
        r"(?:我要|我想|帮我|给我|请)?(?:转人工|转接人工|人工客服|人工服务|找人工|联系人工|人工|真人客服)",
    ),
    (Intent.CLOSE, r"算了|没事了|不用了|没关系|我自己解决了|自己搞定了"),
    (Intent.NOT_SOLVED, r"没解决|没有解决|未解决|不行|还是不行|没用|没有用|不管用|还是一样|不好使|还是没好"),
    (Intent.SOLVED, r"解决了|已解决|问题解决了|好了|可以了|搞定了|行了|有用|成功了"),
    (Intent.NO, r"不是|没有"),
    (Intent.YES, r"是的|是|对|嗯嗯"),
    (Intent.THANKS, r"谢谢|多谢|感谢|谢啦|谢谢你|谢谢您|非常感谢"),
    (Intent.GREETING, r"你好|您好|嗨|哈喽|早上好|下午好|晚上好|在吗|在不在"),
    (Intent.ACK, r"好的|好|收到|明白|知道了|明白了|嗯"),
)
_ZH_RES = [(intent, re.compile(rf"{_ZH_LEAD}(?:{core}){_ZH_TAIL}")) for intent, core in _ZH_PHRASES]

# Long messages are questions, whatever words they contain.
_MAX_WORDS = 14
# ...and characters: 14 words are under 120 characters; a 40,000-character "谢谢谢谢…" cost the
# phrase patterns 5 s of CPU per message, which one person could repeat to stall everyone.
_MAX_CHARS = 160


# Emoji people answer with, as Slack writes them in a message's text (":+1:") or as typed on a
# phone ("👍"): read as the word each stands for, so "👍" under "Did that solve it?" is a yes.
_EMOJI_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "yes",
        (
            ":+1:",
            ":thumbsup:",
            ":white_check_mark:",
            ":heavy_check_mark:",
            ":ok_hand:",
            "👍",
            "✅",
            "✔",
            "👌",
        ),
    ),
    ("no", (":-1:", ":thumbsdown:", ":x:", "👎", "❌")),
    ("thanks", (":pray:", ":heart:", "🙏", "❤")),
)
_EMOJI_MODIFIERS = re.compile(r":skin-tone-[2-6]:|[\U0001F3FB-\U0001F3FF\uFE0F]")


def emoji_as_words(text: str) -> str:
    """`text` with the answering emoji above read as their words when they are all it says; next
    to words of its own ("that worked 👍", "✅ fixed") an emoji is decoration and is dropped."""
    text = _EMOJI_MODIFIERS.sub("", text)
    bare, worded = text, text
    for word, emoji in _EMOJI_WORDS:
        for one in emoji:
            bare, worded = bare.replace(one, " "), worded.replace(one, f" {word} ")
    return bare if normalise(bare) else worded


def read_intent(text: str) -> Intent | None:
    """The intent of the whole message, or None when it should be treated as a question."""
    if len(text) > _MAX_CHARS:  # before any matching: Chinese has no spaces to count words by
        return None
    said = normalise(emoji_as_words(text))
    if not said or len(said.split()) > _MAX_WORDS:
        return None
    for intent, pattern in _PHRASE_RES:
        if pattern.fullmatch(said):
            return intent
    compact = said.replace(" ", "")
    for intent, pattern in _ZH_RES:
        if pattern.fullmatch(compact):
            return intent
    return None


# After an answer, a message with these words is about the same problem ("it still drops").
_FOLLOW_UP_RE = re.compile(
    r"(?:^| )(?:still|again|didnt|doesnt|did not|does not|wont|same|tried|even after|but it|no change)(?: |$)"
    r"|^(?:it|that|this|but|nope|tried|no)(?: |$)"
    # Words that point back at the answer: "I don't see the option you mention", "step 3 fails".
    r"|(?:^| )(?:you (?:mention|mentioned|said|suggested|sent|described|linked)|the article|those steps"
    r"|these steps|that step|step \d|already (?:did|done|tried)|i did that|(?:isnt|its not|is not) there"
    r"|no such (?:option|button|setting|menu|tab|link)"
    r"|(?:dont|cant|do not|cannot) (?:see|find) (?:it|that|this|them))"
    r"(?: |$)"
    r"|还是|仍然|依然|试过|试了|没用"
)
# ...and these say that the answer did not fix it.
_STILL_BROKEN_RE = re.compile(
    r"(?:^| )(?:still|again|didnt|doesnt|did not|does not|wont|same|even after|no change)(?: |$)"
    r"|还是|仍然|依然|没用"
)


# After the person said it was solved, these take that back ("actually it didn't work"). Not
# "same": "my colleagues have the same issue" on a new problem is no verdict on the answer.
_TAKES_BACK_RE = re.compile(
    r"(?:^| )(?:still|again|didnt|doesnt|did not|does not|wont|not fixed|no change|even after"
    r"|came back|stopped working)(?: |$)"
    r"|还是|仍然|依然|没用"
)


# A rating typed in reply to "Rate the help from 1 to 5": "5", "4/5", "4 out of 5", "5 stars",
# "I'd give it a 4", "5分", "⭐⭐⭐⭐", optionally followed by a comment after punctuation
# ("3 - took a while") or after the scale ("5/5 great job"). A number followed straight by words
# ("2 more laptops have it") is news, not a rating.
_RATING_RE = re.compile(
    r"\s*(?:(?:i(?:['’]d| would)? (?:give|rate)(?: (?:it|you|this|that|the help))?(?: an?)?"
    r"|(?:my )?(?:rating|score)(?: is)?:?|rated?|打|评)\s*)?"
    r"(?P<score>[1-5])(?:\.0)?(?P<scale>\s*(?:/\s*5|out of (?:5|five)|of 5|stars?|分|星))?",
    re.IGNORECASE,
)
_AFTER_RATING_RE = re.compile(r"\s*[-–—:,.!;。，！]+\s*")
_STAR = re.compile(r"⭐|★|:star:")
_STARS_RE = re.compile(r"\s*(?:⭐|★|:star:)(?:\s*(?:⭐|★|:star:)){0,4}(?!\s*(?:⭐|★|:star:))")


def typed_rating(text: str) -> tuple[int, str] | None:
    """(score 1–5, comment) when a message is a rating of the help given, else None. A comment
    that says the problem is still there is no rating: it reopens the ticket as before."""
    stars = _STARS_RE.match(text)
    if stars is not None:
        score, rest, scaled = len(_STAR.findall(stars.group(0))), text[stars.end() :], True
    elif (match := _RATING_RE.match(text)) is not None:
        score, rest, scaled = int(match.group("score")), text[match.end() :], match.group("scale") is not None
    else:
        return None
    if rest.strip() and (after := _AFTER_RATING_RE.match(rest)) is not None:
        rest = rest[after.end() :]
    elif rest.strip() and not (scaled and rest[:1].isspace()):
        return None  # "2 more laptops have the same issue"
    comment = rest.strip()
    if says_still_broken(comment):
        return None
    return score, comment


def takes_back_solved(text: str) -> bool:
    """Whether a message after "solved" says the problem is not solved after all."""
    return bool(_TAKES_BACK_RE.search(normalise(text)))


# "Actually, ..." and "... after all" turn back to what was just settled: "actually can I talk to a
# person" right after "solved" is about that problem, not a new one.
_REVERSAL_RE = re.compile(r"^actually |(?:^| )after all(?: |$)")


def turns_back(text: str) -> bool:
    """Whether a short message (an intent phrase) reverses what was just said or decided."""
    return bool(_REVERSAL_RE.search(normalise(text)))


def is_follow_up(text: str) -> bool:
    """Whether a message after an answer continues that problem rather than starting a new one."""
    return bool(_FOLLOW_UP_RE.search(normalise(text)))


def says_still_broken(text: str) -> bool:
    """Whether a follow-up says the problem persists (so the answer did not help)."""
    return bool(_STILL_BROKEN_RE.search(normalise(text)))


# A reply to "Is it about one of these: A; B; C?" that picks one by its place in the list.
_ORDINALS = {
    "first": 1, "1st": 1, "one": 1, "1": 1,
    "second": 2, "2nd": 2, "two": 2, "2": 2,
    "third": 3, "3rd": 3, "three": 3, "3": 3,
    "fourth": 4, "4th": 4, "four": 4, "4": 4,
    "fifth": 5, "5th": 5, "five": 5, "5": 5,
}  # fmt: skip
# Number words only after "option" / "number" ("option two"): a bare "one" is no pick.
_PICK_RE = re.compile(
    r"(?:(?:yes|yeah|yep|ok|okay|its|it is|i mean|i think|probably) )*(?:the )?"
    r"(?:(?P<which>first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|last|[1-5])"
    r"|(?:option|number|no|nr) (?P<spelt>one|two|three|four|five|[1-5]))"
    r"(?: (?:one|option|article|link|please|thanks|pls))*"
)
_ZH_PICK_RE = re.compile(
    r"(?:是|就是|应该是)?第(?P<which>[一二三四五1-5])(?:个|项|篇|条)?(?:吧|了|谢谢)*|(?P<last>最后一个)"
)
_ZH_NUMBERS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5}


def picked_option(text: str, offered: int) -> int | None:
    """The 0-based index of the option a short reply picks ("the second one", "2", "第二个",
    "the last one"), or None when it picks none of the `offered` options."""
    if offered <= 0 or len(text) > 60:
        return None
    said = normalise(text.replace("#", " # "))
    match = _PICK_RE.fullmatch(said)
    if match:
        which = match.group("which") or match.group("spelt")
        number = offered if which == "last" else _ORDINALS[which]
    else:
        zh = _ZH_PICK_RE.fullmatch(said.replace(" ", ""))
        if zh is None:
            return None
        number = (
            offered if zh.group("last") else _ZH_NUMBERS.get(zh.group("which"), 0) or int(zh.group("which"))
        )
    return number - 1 if 1 <= number <= offered else None


# A requester asking where their ticket stands: "any update?", "what's the status", "is anyone
# looking at this?", "有进展吗". Only short messages: a long one describes something new as well.
_STATUS_RE = re.compile(
    r"^(?:(?:hi|hello|hey|so|ok|okay|sorry|please|thanks|any|and) )*"
    r"(?:any (?:updates?|news|progress|eta)"
    r"|(?:what is|whats|wheres|where is) (?:the )?(?:status|progress|update)"
    r"(?: of| on| with)?(?: (?:my|the|this))?(?: ticket| request| case)?"
    r"|(?:is|has) (?:anyone|anybody|someone|somebody) (?:looking|looked|working|picked|seen|read)\b.*"
    r"|(?:status|eta|update) (?:please|pls|on (?:my|the|this) (?:ticket|request|case))"
    r"|how long (?:will|does|is) (?:it|this) (?:take|going to take)"
    r"|when will (?:someone|somebody|anyone|it|this|you|i) \w+.*"
    r"|(?:im |i am )?still waiting(?: for (?:an? )?(?:answer|reply|update|response))?)"
    r"(?: (?:on|about|for|with) (?:this|it|that|(?:my|the|this) (?:ticket|request|case|issue)))?"
    r"(?: (?:please|pls|thanks|thank you|yet|now|today))*$"
)
_ZH_STATUS_RE = re.compile(
    r"有(?:什么)?(?:进展|进度|更新|消息)|进展(?:如何|怎么样)|处理(?:到哪|得怎么样)|有人(?:在)?(?:处理|看)吗|什么时候(?:能|可以)?(?:处理|解决|回复)|还在等"
)


def asks_for_status(text: str) -> bool:
    """Whether a message after a handoff asks how the ticket is going rather than adding to it."""
    if len(text) > 80:
        return False
    said = normalise(text)
    return bool(_STATUS_RE.match(said) or _ZH_STATUS_RE.search(said.replace(" ", "")))


# ASCII around it, so a number written straight after Chinese ("关闭IT-2吧") is still found.
_TICKET_NUMBER_RE = re.compile(r"(?<![A-Za-z0-9_-])([A-Za-z]{1,10}-\d{1,9})(?![A-Za-z0-9_-])")
# What may stand around a ticket number in a status question once the number (and words like
# "ticket") are taken out: "status of ticket IT-12", "IT-12?", "what about IT-12", "IT-12 update
# please", "when will IT-12 be fixed".
_AROUND_NUMBER_RE = re.compile(
    r"^(?:(?:hi|hello|hey|so|ok|okay|and|any|the|what|what is|whats|how|hows|how is"
    r"|where is|wheres|check|tell me)\b ?)*"
    r"(?:(?:status|updates?|progress|eta|news)\b ?(?:(?:of|on|for|about)\b ?)?"
    r"|when (?:will|is) (?:it )?(?:be )?(?:fixed|done|resolved|ready|sorted)\b ?)?"
    r"(?:(?:please|pls|thanks|thank you|now|today|yet)\b ?)*$"
)
_NUMBER_WORDS = frozenset({"ticket", "request", "case", "number", "no", "my"})
_DANGLING_RE = re.compile(r"(?: (?:on|of|for|about|with))+$")


def _one_number(text: str) -> tuple[str, str] | None:
    """(the one ticket number in `text`, in capitals; the rest, normalised, without it and words
    like "ticket"), or None when the text names no number or several."""
    found = _TICKET_NUMBER_RE.findall(text)
    if len(found) != 1:
        return None
    words = normalise(_TICKET_NUMBER_RE.sub(" ", text)).split()
    return str(found[0]).upper(), " ".join(w for w in words if w not in _NUMBER_WORDS)


def named_ticket(text: str) -> str | None:
    """The ticket number a short status question names ("what's the status of IT-1937?",
    "any update on it-12", "IT-12?"), in capitals; None when the message says more than that
    (a number quoted inside a new problem is part of the problem)."""
    named = _one_number(text) if len(text) <= 80 else None
    if named is None:
        return None
    number, rest = named
    rest = _DANGLING_RE.sub("", f" {rest}").strip()
    return number if _AROUND_NUMBER_RE.match(rest) or asks_for_status(rest) else None


# A request to close a named ticket, once the number and words like "ticket" are taken out:
# "close IT-12", "please cancel IT-12, it works now", "IT-12 can be closed", "you can close IT-12".
_CLOSE_RE = re.compile(
    r"^(?:(?:hi|hello|hey|ok|okay|so|please|pls|you can|can you|could you|can i|could i|i want to"
    r"|id like to|i would like to|kindly|just)\b ?)*"
    r"(?:(?:close|cancel|withdraw)(?: (?:it|that|this))?(?: (?:please|pls|now))*"
    r"|(?:it |this |that )?(?:can|may|should) be (?:closed|cancelled|canceled|withdrawn)(?: now)?)"
    r"(?: (?:it|its|it is|that|this)? ?(?:works|working|is working|fixed|is fixed|sorted|resolved"
    r"|solved|fine)(?: now| again| itself)?"
    r"| (?:its |it is |im |i am )?(?:not|no longer) (?:needed|required|an issue|a problem)"
    r"(?: anymore| any more)?)?"
    r"(?: (?:thanks|thank you|thx|please|pls|cheers))*$"
)


_ZH_CLOSE_RE = re.compile(
    r"^(?:请|麻烦)?(?:帮我|您)?(?:可以)?(?:关闭|关掉|撤销|取消)(?:工单)?(?:吧|了|一下)?(?:谢谢)?$"
)


def close_request(text: str) -> str | None:
    """The ticket number a short request to close it names ("please close IT-12, it works now"),
    in capitals; None for anything else ("close IT-12? it still drops" is no such request)."""
    named = _one_number(text) if len(text) <= 100 and not text.rstrip().endswith(("?", "？")) else None
    if named is None:
        return None
    number, rest = named
    return number if _CLOSE_RE.match(rest) or _ZH_CLOSE_RE.match(rest.replace(" ", "")) else None


# Where a message turns to a second problem: "outlook keeps crashing and also my second monitor
# flickers", "…; another thing: …", "…，另外打印机也卡纸了".
_SECOND_PROBLEM_RE = re.compile(
    r"(?:[,;.!]\s*|\s)(?:and also|and another thing|another thing|also|on top of that|as well as that"
    r"|plus|btw|by the way|apart from that|separately)\b[\s,:]*"
    r"|[，。；,;]\s*(?:另外|还有|同时|此外)[，,：:]?",
    re.IGNORECASE,
)
_MIN_PROBLEM_WORDS = 3
_CJK_RE = re.compile(r"[\u3400-\u9fff]")


def second_problem(text: str) -> tuple[str, str] | None:
    """(first, second): a message's two problems when it turns to another one part-way (see
    `_SECOND_PROBLEM_RE`), each long enough to be one; None for a single problem. Whether both
    halves really are problems is for the caller to judge."""
    match = _SECOND_PROBLEM_RE.search(text)
    if match is None:
        return None
    first, second = text[: match.start()].strip(" ,;.:"), text[match.end() :].strip(" ,;.:")

    def enough(part: str) -> bool:
        return len(part.split()) >= _MIN_PROBLEM_WORDS or (bool(_CJK_RE.search(part)) and len(part) >= 4)

    return (first, second) if enough(first) and enough(second) else None


_TICKET_WORD_RE = re.compile(r"\b(?:tickets?|requests?|case)\b|工单")


def mentions_ticket(text: str) -> bool:
    """Whether a status question says it is about a ticket ("what's the status of my ticket"),
    not just about a fix ("when will someone fix my laptop")."""
    return bool(_TICKET_WORD_RE.search(normalise(text)))


# Words of IT support in general, not of one knowledge base: accounts, devices, software, mail,
# files and the network, and asking for help. One of them in a case makes it IT's business even
# when it also reads as chatter ("my Teams status says I'm at lunch"): see `is_chatter`.
_IT_WORDS_RE = re.compile(
    r"\b(?:accounts?|passwords?|passcode|pin|log ?in|log ?on|logins?|sign ?in|sign ?on|signing in|sso|mfa|2fa"
    r"|authenticat\w*|otp|tokens?|locked|unlock\w*|access\w*|permissions?|admin\w*|rights|credentials?"
    r"|e ?mails?|mail\w*|inbox|outlook|calendars?|invites?|teams|zoom|slack|webex|skype|sharepoint"
    r"|onedrive|dropbox|google|gmail|drives?|folders?|files?|shared?|documents?|excel|word|powerpoint"
    r"|office|pdf|acrobat|browsers?|chrome|edge|firefox|safari|websites?|web|urls?|links?|portal"
    r"|intranet|apps?|applications?|software|programs?|install\w*|uninstall\w*|updat\w*|upgrad\w*|patch\w*"
    r"|licen[cs]\w*|versions?|download\w*|upload\w*|sync\w*|backups?|restor\w*|databases?|servers?"
    r"|systems?|sap|crm|erp|jira|confluence|salesforce|workday|vpn|wi ?fi|wireless|network\w*|internet"
    r"|ethernet|cables?|connect\w*|disconnect\w*|dns|ip|proxy|firewall|bluetooth|hotspot|laptops?"
    r"|computers?|pc|desktops?|mac|macbook|imac|windows|linux|ubuntu|macos|ios|android|iphone|ipad"
    r"|phones?|mobile|tablets?|monitors?|screens?|displays?|keyboards?|mouse|trackpad|headsets?"
    r"|headphones|webcam|cameras?|microphones?|mic|speakers?|audio|sound|printers?|print\w*|scann\w*|fans?"
    r"|copier|docks?|docking|usb|hdmi|chargers?|battery|hardware|devices?|disk|storage|memory|ram|cpu"
    r"|boot\w*|reboot\w*|restart\w*|crash\w*|freez\w*|frozen|errors?|bugs?|virus\w*|malware|phish\w*"
    r"|spam|security|encrypt\w*|bitlocker|certificates?|ssl|tickets?|helpdesk|service desk|tech\w*"
    r"|data|code|git|api|dashboard|settings|notifications?|pop ?ups?|icons?|voicemail|extension|fax"
    r"|slow|loading|online|offline|cloud|digital|cyber\w*|hack\w*|help|support|assist\w*)\b",
    re.IGNORECASE,
)
_IT_CASED_RE = re.compile(r"\bIT\b")  # "IT" in capitals; "it" is a pronoun
_ZH_IT_RE = re.compile(
    r"密码|账号|账户|帐号|登录|登陆|认证|邮箱|邮件|网络|无线|网速|上网|校园网|电脑|笔记本|台式机|打印|扫描|显示器|屏幕"
    r"|软件|安装|卸载|系统|权限|手机|平板|蓝屏|黑屏|死机|网页|网站|浏览器|服务器|文件|共享|网盘|云盘|证书|病毒"
    r"|更新|升级|驱动|鼠标|键盘|耳机|摄像头|麦克风|会议|数据|备份|报错|错误|许可|授权|激活|工单|信息化|VPN|帮|支持",
    re.IGNORECASE,
)


def mentions_it(text: str) -> bool:
    """Whether `text` says anything of IT at all (see `_IT_WORDS_RE`)."""
    said = normalise(text)
    return bool(_IT_WORDS_RE.search(said) or _ZH_IT_RE.search(said) or _IT_CASED_RE.search(text))


# Chatter: what people ask a chat bot for fun or out of habit, never IT support's business. Only
# these get "That doesn't look like an IT question" instead of a ticket, and only when nothing else
# in the case is about IT (`mentions_it`) or a fault: an unknown but real IT problem, however it
# is worded, still goes to a person after one clarifying question.
_CHATTER_RE = re.compile(
    r"\b(?:weather|forecast|raining|sunny|jokes?|funny|riddles?|poems?|songs?|sing|a story|movies?|films?"
    r"|tv shows?|football|soccer|cricket|basketball|the match|the game|sports?|recipes?|cook\w*|lunch"
    r"|dinner|breakfast|canteen|restaurants?|pizza|birthday|party|dating|meaning of life|how are you"
    r"|who are you|whats your name|what is your name|are you (?:a )?(?:bot|human|robot|real|ai)"
    r"|about yourself|horoscope|lottery|stock price|bitcoin|the news)\b"
    r"|天气|笑话|讲个故事|唱歌|电影|足球|篮球|比赛|午饭|午餐|晚饭|吃什么|你是谁|你叫什么|你好吗|星座|彩票|股票",
    re.IGNORECASE,
)


def is_chatter(text: str) -> bool:
    """Whether `text` is small talk of the kinds in `_CHATTER_RE` ("tell me a joke", "天气")."""
    return bool(_CHATTER_RE.search(normalise(text)))


# A how-to question ("how do I connect to the VPN from home", "where is the guest wifi
# password", "如何申请邮箱"): the person wants to do something, so nothing has gone wrong yet and
# asking for the error message reads as a form nobody read.
_HOW_TO_RE = re.compile(
    r"^(?:please )?(?:how (?:do|can|could|should|would|to)|where (?:do|can|is|are|should)"
    r"|what(?:s| is| are) the (?:best |right )?(?:way|steps|process|procedure)|is there a way|can i|could i"
    r"|what do i need to)\b|\bhow (?:do|can) (?:i|we)\b|\bhow to\b"
    r"|如何|怎么(?:样)?(?:才能|能|可以)?(?:申请|设置|连接|安装|使用|登录|开通|修改|找到|下载|配置)|在哪",
    re.IGNORECASE,
)


def asks_how_to(text: str) -> bool:
    """Whether `text` asks how to do something (not whether it describes a fault: callers check)."""
    return bool(_HOW_TO_RE.search(normalise(text)))


# "never mind, it works now", "fixed itself", "it started working again", "you can close the
# ticket": the problem a ticket is open for has gone. Checked on a message to an open ticket, where
# it offers to close the ticket (a "yes" closes it), only when the message names no fault.
_WORKS_NOW_RE = re.compile(
    r"(?:^| )(?:(?:it|its|it is|everything|all|that|this|the \w+)(?: is| s)? (?:works|working|fine|ok|okay"
    r"|good|sorted|fixed|resolved|back)(?: now| again| itself)?"
    r"|works (?:now|again)|working (?:now|again)|(?:fixed|sorted|solved|resolved) (?:itself|it(?: myself)?)"
    r"|(?:started|starts) working(?: again)?|back to normal|never ?mind|nvm|no longer (?:needed|an issue)"
    r"|(?:you can |please |pls )?(?:close|cancel) (?:the|my|this|that|it)(?: ticket| request| case)?"
    r"|problem (?:is )?(?:gone|solved|resolved|fixed))(?: |$)"
    r"|好了|可以了|恢复了|没问题了|解决了|不用了|算了|自己好了|关闭工单|取消工单"
)


# "...but not on my laptop", "it is still not fine", "还是不行": the problem has not gone.
_BUT_RE = re.compile(
    r"(?:^| )(?:still|not|no longer works|didnt|doesnt|dont|isnt|wont|cant|but|except|only|yet)(?: |$)"
    r"|还是|仍然|依然|没好|不行|但是"
)


def says_it_works(text: str) -> bool:
    """Whether a message says the problem has gone ("it works now", "fixed itself", "算了")."""
    said = normalise(text)
    if len(said.split()) > _MAX_WORDS or len(said) > _MAX_CHARS or text.rstrip().endswith(("?", "？")):
        return False  # "is it fixed?" asks; it does not say
    return bool(_WORKS_NOW_RE.search(said)) and not _BUT_RE.search(said)
