"""What a reply shows from an article: enough of it to act on (real encoder, tiny KB)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb_index.encoders import Encoder, load_encoder
from kb_index.ingest import ingest_paths
from kb_index.searcher import LiveSearcher
from kb_index.types import ArticleHit

pytestmark = pytest.mark.slow

RESET = """# Reset the VPN client

Resetting the client fixes most sign-in loops.

## Steps

1. Quit the VPN client from the menu bar.
2. Delete the profile under Settings > Profiles.
3. Sign in again with your company account.
"""

LONG_INTRO = (
    "# Printer paper jam\n\n"
    + " ".join(["Paper jams happen when the tray is overfilled."] * 8)
    + ("\n\n## Clear the jam\n\nOpen the front door and pull the sheet out.\n")
)


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return load_encoder("minilm")


def _searcher(tmp_path: Path, encoder: Encoder, articles: dict[str, str]) -> LiveSearcher:
    """A KB of these articles (file name: markdown), ingested and searched as in production."""
    (tmp_path / "kb").mkdir()
    for name, text in articles.items():
        (tmp_path / "kb" / name).write_text(text, encoding="utf-8")
    ingest_paths(tmp_path / "index", [tmp_path / "kb"], encoder)
    return LiveSearcher(tmp_path / "index", encoder)


def test_a_short_best_passage_comes_with_the_steps_that_follow(tmp_path: Path, encoder: Encoder) -> None:
    searcher = _searcher(tmp_path, encoder, {"vpn-reset.md": RESET, "printer.md": LONG_INTRO})
    top = searcher.search("the vpn client is stuck in a sign-in loop").top  # matches the intro
    assert top is not None and top.article_id == "vpn-reset"
    assert top.best.text == "Resetting the client fixes most sign-in loops."
    assert top.best.following is not None and top.best.following.section == "Steps"
    assert "Delete the profile" in top.best.following.text
    printer = searcher.search("why does paper jam in the tray").top
    assert printer is not None and printer.best.following is None  # long enough on its own


APPLY = """# Network resources

## Requesting resources

Staff can request a subdomain, server hosting or a fixed IP address in the OS portal, under Apply.

### Apply for a subdomain

<center class="half"><img src="/img/sqym.jpg" width=40% /></center>

### Apply for server hosting

<center class="half"><img src="/img/host.jpg" width=40% /></center>
"""


def test_a_section_that_is_only_a_picture_is_never_the_answer_shown(tmp_path: Path, encoder: Encoder) -> None:
    searcher = _searcher(tmp_path, encoder, {"apply.md": APPLY, "vpn-reset.md": RESET})
    top = searcher.search("how do I apply for a subdomain").top
    assert top is not None and top.article_id == "apply"
    assert top.best.text.startswith("Staff can request a subdomain")
    assert top.best.following is None  # the next sections are pictures: nothing to add
    assert all("<" not in p.text for p in top.passages)


OUTLOOK = """# Outlook crashes

## Symptoms

Outlook closes a few seconds after it opens, every time, and Windows says "Microsoft Outlook has
stopped working". Restarting the computer does not help, and webmail still works as usual for
the same mailbox, so the problem is on this computer only.

## Fix

1. Start Outlook in safe mode: hold Ctrl while you open it.
2. Disable the add-ins under File > Options > Add-ins, then restart Outlook.
"""


def test_an_answer_from_the_symptoms_comes_with_the_fix_after_them(tmp_path: Path, encoder: Encoder) -> None:
    searcher = _searcher(tmp_path, encoder, {"outlook-crashes.md": OUTLOOK, "printer.md": LONG_INTRO})
    top = searcher.search("Outlook crashes every time I open it").top
    assert top is not None and top.best.section.endswith("Symptoms")
    assert top.best.following is not None and "safe mode" in top.best.following.text


SCANNER = """# Scan to email from the copier

## Set up scan to email

1. Tap your badge on the copier's reader to sign in.
2. Choose Scan, then Send to me; the PDF arrives in your inbox within a minute.

## Still stuck?

Ask the Service Desk.
"""

PHONE = """# Set up email on your phone

Install Outlook from the app store and sign in with your work account.

## Still need help?

Contact the Service Desk.
"""


def test_the_answer_is_the_fix_not_the_section_that_sends_you_to_a_person(
    tmp_path: Path, encoder: Encoder
) -> None:
    """A short "Still stuck? Ask the Service Desk" section is mostly the article's title to the
    encoder, so it would be the passage shown for almost any question on the topic."""
    searcher = _searcher(tmp_path, encoder, {"scan.md": SCANNER, "phone.md": PHONE})
    for question, article, fix in [
        ("how do I scan to email from the copier", "scan", "Tap your badge"),
        ("set up email on my phone", "phone", "Install Outlook"),
    ]:
        top = searcher.search(question).top
        assert top is not None and top.article_id == article
        assert fix in top.best.text, (question, top.best.section)
        assert any("Service Desk" in p.text for p in top.passages[1:])  # still there, after the fix


BITLOCKER = """# BitLocker recovery screen

## Why it happens

BitLocker asks for the recovery key at start-up when the firmware changed, for example after a
BIOS update was installed or when the laptop was started on a different dock than usual. It is
not a virus and your files are safe: the disk is encrypted and only waits for the key.

## Get your key

1. On your phone, open the recovery key page and sign in with your work account.
2. Type the 48 digits shown there on the laptop and press Enter.
"""


def test_an_answer_from_the_explanation_comes_with_the_fix_after_it(tmp_path: Path, encoder: Encoder) -> None:
    searcher = _searcher(tmp_path, encoder, {"bitlocker.md": BITLOCKER, "printer.md": LONG_INTRO})
    top = searcher.search("bitlocker wants a recovery key after a bios update").top
    assert top is not None and top.best.section == "Why it happens"
    assert top.best.following is not None and "48 digits" in top.best.following.text


USB = """# USB drive blocked

## Symptoms

You plug in a USB stick or an external hard drive and Windows says "Your organisation blocked this
device", or the drive opens but every copy to it fails with "Access denied". Other laptops show the
same message for the same stick, so the stick itself is fine.

## Why

Company laptops may read from removable storage but not write to it, because customer data copied
to a stick is the most common way it leaks. The rule is set centrally and applies to every laptop.

## Do this instead

1. Put the file in your OneDrive folder.
2. Right-click it, choose Share and send the link to the person who needs it.

## Still stuck?

Contact the Service Desk.
"""


def test_an_answer_from_the_symptoms_skips_the_explanation_to_reach_the_fix(
    tmp_path: Path, encoder: Encoder
) -> None:
    """Symptoms, then why, then the fix: the reply must reach the fix, not stop at the reason."""
    searcher = _searcher(tmp_path, encoder, {"usb.md": USB, "printer.md": LONG_INTRO})
    top = searcher.search("my usb stick says access denied").top
    assert top is not None and top.article_id == "usb"
    assert top.best.section == "Symptoms"
    assert top.best.following is not None and "OneDrive folder" in top.best.following.text


SHORT_THEN_CONTACT = """# Shared mailbox on your phone

Shared mailboxes can't be added to the phone's mail app; use Outlook for iOS or Android.

## Still need help?

Contact the Service Desk with your phone model.
"""


def test_a_short_answer_never_comes_with_the_contact_us_section(tmp_path: Path, encoder: Encoder) -> None:
    searcher = _searcher(tmp_path, encoder, {"shared.md": SHORT_THEN_CONTACT, "printer.md": LONG_INTRO})
    top = searcher.search("add a shared mailbox on my phone").top
    assert top is not None and top.article_id == "shared"
    assert top.best.text.startswith("Shared mailboxes can't be added")
    assert top.best.following is None  # "contact the Service Desk" is what the reply's buttons say


_STEP = "Open the settings panel and check the option carefully before moving on. " * 3
PROCEDURE = "# Outlook crashes at start-up\n\n## Fix (try in order)\n\n" + "\n".join(
    f"{i}. " + ("Rebuild the local mail cache from the Company Portal. " if i == 8 else "") + _STEP
    for i in range(1, 9)
)


def test_an_answer_never_starts_in_the_middle_of_numbered_steps(tmp_path: Path, encoder: Encoder) -> None:
    """Steps are done in order: a match on step 8 of a long procedure shows it from step 1, with
    the matched steps after it."""
    searcher = _searcher(tmp_path, encoder, {"outlook.md": PROCEDURE, "printer.md": LONG_INTRO})
    top = searcher.search("how do I rebuild the outlook mail cache").top
    assert top is not None and top.article_id == "outlook"
    assert top.best.text.startswith("1. ")
    assert top.best.following is not None and "Rebuild the local mail cache" in top.best.following.text
    shown = f"{top.best.text}\n{top.best.following.text}".splitlines()
    assert sum(line.startswith("5. ") for line in shown) == 1  # the windows' overlap is not repeated


DEMO_KB = Path(__file__).resolve().parents[1] / "examples" / "kb"


def _sections_shown(hit: ArticleHit) -> list[str]:
    following = hit.best.following
    return [hit.best.section] + ([following.section] if following is not None else [])


def test_between_sections_that_match_alike_the_one_whose_heading_names_the_question_is_shown(
    tmp_path: Path, encoder: Encoder
) -> None:
    """The demo KB's password article: its intro, "Change a password you still know" and "Reset a
    forgotten password" score within a hair of each other for a reset question."""
    names = ("password-reset.md", "admin-rights-request.md", "account-lockout.md")
    searcher = _searcher(tmp_path, encoder, {n: (DEMO_KB / n).read_text(encoding="utf-8") for n in names})
    for question, article, section in (
        ("how do I reset my password", "password-reset", "Reset a forgotten password"),
        ("forgot my password how do i reset it", "password-reset", "Reset a forgotten password"),
        ("how do i change my windows password", "password-reset", "Change a password you still know"),
        ("can i get admin on my laptop", "admin-rights-request", "Temporary admin (most cases)"),
    ):
        top = searcher.search(question).top
        assert top is not None and top.article_id == article, question
        assert top.best.section == section, question


def test_a_section_whose_heading_names_the_place_wins_over_one_that_shares_only_body_words(
    tmp_path: Path, encoder: Encoder
) -> None:
    """ "Deleted … folder" matches the *Emails* section's body ("Deleted Items folder") a little
    better, but the question is about a drive and *Network drives* says so."""
    ingest_paths(tmp_path / "index", [DEMO_KB], encoder)  # the whole KB: BM25 weighs words by it
    top = (
        LiveSearcher(tmp_path / "index", encoder)
        .search("I accidentally deleted a folder on the shared drive yesterday, can I get it back?")
        .top
    )
    assert top is not None and top.article_id == "restore-deleted-files"
    assert top.best.section.startswith("Network drives")


def test_a_first_answer_is_the_fix_not_what_to_do_when_it_keeps_happening(
    tmp_path: Path, encoder: Encoder
) -> None:
    names = ("account-lockout.md", "password-reset.md", "laptop-slow.md")
    searcher = _searcher(tmp_path, encoder, {n: (DEMO_KB / n).read_text(encoding="utf-8") for n in names})
    first = searcher.search("my password expired and I am locked out").top
    assert first is not None and first.article_id == "account-lockout"
    shown = [first.best.section, first.best.following.section if first.best.following else None]
    assert "Fix" in shown and "It keeps happening" not in shown
    slow = searcher.search("my laptop is sooo slow").top
    assert slow is not None and slow.best.section != "Still slow?"
    # Said by the question itself, the follow-up section is the answer.
    again = searcher.search("my account keeps getting locked every morning").top
    assert again is not None and again.best.section == "It keeps happening"


def test_a_first_answer_is_the_fix_not_what_to_use_in_the_meantime(tmp_path: Path, encoder: Encoder) -> None:
    """ "Meanwhile, use Outlook on the web" is short, so its vector is mostly the article's title
    and it matched "outlook won't start" best; the person needs the fix first."""
    names = ("outlook-crashes.md", "email-on-phone.md", "laptop-slow.md")
    searcher = _searcher(tmp_path, encoder, {n: (DEMO_KB / n).read_text(encoding="utf-8") for n in names})
    top = searcher.search("outlook won't start on my laptop").top
    assert top is not None and top.article_id == "outlook-crashes"
    assert top.best.section.startswith("Fix")


def test_a_first_answer_is_the_main_way_not_what_to_do_when_it_fails(
    tmp_path: Path, encoder: Encoder
) -> None:
    names = ("bitlocker-recovery.md", "password-reset.md", "laptop-slow.md")
    searcher = _searcher(tmp_path, encoder, {n: (DEMO_KB / n).read_text(encoding="utf-8") for n in names})
    where = searcher.search("where do i find my recovery key").top
    assert where is not None and where.article_id == "bitlocker-recovery"
    assert where.best.section == "Get your key yourself"
    # Said by the question itself, the fallback is the answer.
    stuck = searcher.search("I can't get my bitlocker key").top
    assert stuck is not None and stuck.best.section == "Can't get the key?"


def test_after_the_first_passage_another_platforms_steps_come_last(tmp_path: Path, encoder: Encoder) -> None:
    """The passages after the first are what a follow-up is shown next: the general steps, then Mac."""
    names = ("shared-drive-mapping.md", "printer-add.md", "laptop-slow.md")
    searcher = _searcher(tmp_path, encoder, {n: (DEMO_KB / n).read_text(encoding="utf-8") for n in names})
    top = searcher.search("how do I map the S: drive I don't see the option you mention").top
    assert top is not None and top.article_id == "shared-drive-mapping"
    sections = [p.section for p in top.passages]
    assert "Mac" in sections and sections[-1] == "Mac", sections
    mac = searcher.search("how do I map the S: drive on my mac").top
    assert mac is not None and mac.best.section == "Mac"


def test_every_passage_of_a_hit_reads_on_its_own(tmp_path: Path, encoder: Encoder) -> None:
    """A follow-up is shown the hit's next passage: symptoms there come with the fix, as first."""
    names = ("vpn-disconnects.md", "password-reset.md", "laptop-slow.md")
    searcher = _searcher(tmp_path, encoder, {n: (DEMO_KB / n).read_text(encoding="utf-8") for n in names})
    top = searcher.search("my vpn disconnects every few minutes, ping replies keep coming when it drops").top
    assert top is not None and top.article_id == "vpn-disconnects"
    symptoms = [p for p in top.passages if p.section == "Symptoms"]
    assert symptoms and symptoms[0].following is not None and symptoms[0].following.section == "Fix"


def test_a_mac_section_is_shown_first_only_to_a_question_about_a_mac_when_a_general_one_is_close(
    tmp_path: Path, encoder: Encoder
) -> None:
    names = ("laptop-slow.md", "wired-network-dock.md", "printer-add.md")
    searcher = _searcher(tmp_path, encoder, {n: (DEMO_KB / n).read_text(encoding="utf-8") for n in names})
    general = searcher.search("my laptop is really slow since yesterday").top
    assert general is not None and general.article_id == "laptop-slow" and general.best.section != "Mac"
    mac = searcher.search("my macbook is really slow since yesterday").top
    assert mac is not None and mac.best.section == "Mac"
    # Windows steps for an unnamed laptop stay first: most company laptops run it.
    printer = searcher.search("how do i add the printer on my new laptop??").top
    assert printer is not None and printer.best.section == "Windows"


BLACK_SCREEN = """# Screen sharing shows a black screen

## Symptoms

Others in the meeting see a black screen when you share your screen.

## Mac: allow screen recording

Open System Settings, Privacy & Security, Screen Recording, and turn on the meeting app.

## Turn off hardware acceleration

In the meeting app's settings turn off GPU hardware acceleration, then restart the app.
"""


def test_the_steps_shown_are_for_the_platform_the_question_names(tmp_path: Path, encoder: Encoder) -> None:
    articles = {"black-screen.md": BLACK_SCREEN, "printer-add.md": (DEMO_KB / "printer-add.md").read_text()}
    searcher = _searcher(tmp_path, encoder, articles)
    for question, platform_steps in (
        ("others see a black screen when I share my screen, Windows 11 laptop", False),
        ("others see a black screen when I share my screen", False),  # most laptops here run Windows
        ("others see a black screen when I share my screen on my MacBook", True),
    ):
        top = searcher.search(question).top
        assert top is not None and top.article_id == "black-screen", question
        shown = _sections_shown(top)
        assert any(section.startswith("Mac") for section in shown) is platform_steps, (question, shown)
    # Windows steps, first for an unnamed laptop, yield to the Mac ones when the question says Mac.
    printer = searcher.search("how do i add the printer on my new macbook").top
    assert printer is not None and printer.best.section == "Mac"
