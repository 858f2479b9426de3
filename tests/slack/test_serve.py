"""`tierline serve` in HTTP mode, as a real process: health, a signed event, a reply in Slack."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT, TestDatabase
from tests.slack.conftest import SECRET, SUPPORT, envelope_schema
from tests.slack.driver import SlackDriver
from tests.slack.fake_slack import FakeSlack


def test_serve_starts_http_mode_and_answers(db: TestDatabase, fake: FakeSlack, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": db.url,
        "SLACK_BOT_TOKEN": "xoxb-serve-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.url,
        "TIERLINE_SUPPORT_CHANNELS": SUPPORT,
        "TIERLINE_TIER_CHANNELS": "L1=CQUEUEL101",
        "TIERLINE_DATA_DIR": str(tmp_path),  # no KB index here: the engine clarifies, then hands off
        "PORT": "0",
    }
    env.pop("SLACK_APP_TOKEN", None)
    tierline = Path(sys.executable).parent / "tierline"
    process = subprocess.Popen(
        [str(tierline), "serve", "--host", "127.0.0.1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        port = None
        deadline = time.monotonic() + 120
        lines: list[str] = []
        while port is None and time.monotonic() < deadline and process.poll() is None:
            line = process.stdout.readline() if process.stdout else ""
            lines.append(line)
            found = re.search(r"127\.0\.0\.1:(\d+)/slack/events", line)
            port = int(found.group(1)) if found else None
        assert port, "".join(lines)
        driver = SlackDriver(f"http://127.0.0.1:{port}", SECRET, envelope_schema())
        assert driver.get("/healthz").status == 200
        assert "tierline" in driver.get("/metrics").body
        ts = driver.say("UREQUEST01", SUPPORT, "My monitor shows strange green lines since this morning")
        reply = fake.wait_for(lambda: fake.posts(SUPPORT, ts), timeout=60, what="reply from the served app")[
            0
        ]
        assert reply.args["thread_ts"] == ts
        assert fake.problems == []
    finally:
        process.terminate()
        process.wait(timeout=20)
