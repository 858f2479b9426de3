"""Slack's text format both ways: what people typed reaches the engine as typed, and what we post
shows as written (no stray `<` swallowing the rest of a message)."""

from __future__ import annotations

from bot.slack.text import escape, from_slack, markdown_to_mrkdwn, with_attachments

BOT = "UTIERBOT01"


def test_entities_links_and_channels_read_as_the_person_typed_them() -> None:
    raw = (
        "VPN &amp; Wi-Fi fail: &lt;error 809&gt; see <https://status.example.com|status> in <#C0123|it-help>"
    )
    assert from_slack(raw, BOT) == (
        "VPN & Wi-Fi fail: <error 809> see status (https://status.example.com) in #it-help"
    )


def test_only_the_bots_own_mention_is_removed() -> None:
    said = from_slack(f"<@{BOT}> my manager <@UMANAGER01> has the same problem", BOT)
    assert said == "my manager <@UMANAGER01> has the same problem"
    assert from_slack(f"<@{BOT}|tierline> hi", BOT) == "hi"


def test_bare_links_mailto_broadcasts_and_groups_become_words() -> None:
    assert from_slack("<https://x.example/a>", BOT) == "https://x.example/a"
    assert from_slack("mail <mailto:it@example.com|it@example.com>", BOT) == "mail it@example.com"
    assert from_slack("<!here> printers down, <!subteam^S123|@desk> help", BOT) == (
        "@here printers down, @desk help"
    )


def test_escape_keeps_mentions_and_escapes_everything_else() -> None:
    assert escape("a < b & c > d <@UENGINL101>") == "a &lt; b &amp; c &gt; d <@UENGINL101>"
    assert escape("<@UENGINL101|bob> said <script>") == "<@UENGINL101> said &lt;script&gt;"
    # round trip: what Slack sent, decoded, then escaped again, is what Slack would show
    assert escape(from_slack("x &lt;y&gt; &amp;amp;", BOT)) == "x &lt;y&gt; &amp;amp;"


def test_shared_files_are_named_with_their_link() -> None:
    files = [{"name": "error.png", "permalink": "https://acme.slack.com/files/F1"}, "junk"]
    assert with_attachments("", files) == "[attached: error.png https://acme.slack.com/files/F1]"
    assert with_attachments("see this", None) == "see this"


def test_a_kb_passage_in_markdown_reads_as_slack_formatting() -> None:
    passage = (
        "## Fix\nPlug it into the **right port** & restart <the dock>.\n- unplug it\n"
        "> Thanks for your message\nSee [the guide](https://kb.example/dock?a=1&b=2)."
    )
    shown = markdown_to_mrkdwn(passage)
    assert shown.splitlines() == [
        "*Fix*",
        "Plug it into the *right port* &amp; restart &lt;the dock&gt;.",
        "• unplug it",
        "> Thanks for your message",
        "See <https://kb.example/dock?a=1&amp;b=2|the guide>.",
    ]
