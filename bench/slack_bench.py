"""Slack app benchmark: ack latency under 20 concurrent signed events, and events handled per second.

Run: .venv/bin/python bench/slack_bench.py [--rounds 10] [--concurrency 20] [--database-url URL]

Everything runs on 127.0.0.1 in this process: the fake Slack Web API (tests/slack/fake_slack.py,
real HTTP, Block Kit validation on) and the app served by `bot.slack.server` exactly as
`tierline serve` serves it, with the real engine, workflow and outbox on a fresh database
(SQLite by default). The knowledge search is the small keyword searcher from the Slack tests, so
the figures measure the Slack layer, not the embedding model.

1. Ack latency: `concurrency` signed Events API requests sent at once, `rounds` times; the time
   from sending to the HTTP 200 is what Slack's 3-second rule is about. Baseline in the same
   process: GET /healthz on the same server (no signature check, no bolt).
2. Throughput: events per second from the first send until every reply has been posted to the
   fake Slack (engine + database + outbox + Web API call). Baseline: the same questions through
   `Engine.handle` directly, one transaction each, no Slack.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.engine import Inquiry  # noqa: E402
from models.db import make_engine, make_session_factory, transaction, upgrade  # noqa: E402
from tests.conftest import TestDatabase  # noqa: E402
from tests.slack.conftest import SPEC, SUPPORT, build_stack  # noqa: E402
from tests.slack.fake_slack import FakeSlack  # noqa: E402

QUESTIONS = (
    "How do I reset my forgotten password?",
    "The VPN keeps disconnecting on my laptop",
    "How do I add the office printer?",
    "My screen is flickering after the update",
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        db = TestDatabase("bench", url, engine, make_session_factory(engine))
        fake = FakeSlack.start(SPEC if SPEC.exists() else None)
        stack = build_stack(db, fake)
        driver = stack.driver
        try:
            # warm-up: auth.test, first user rows, first queries
            driver.say("UWARMUP001", SUPPORT, QUESTIONS[0])
            fake.wait_for(lambda: fake.posts(SUPPORT), what="warm-up reply")
            fake.settle(quiet=0.3)

            health = [driver.get("/healthz").seconds for _ in range(args.rounds * args.concurrency)]

            acks: list[float] = []
            total = args.rounds * args.concurrency
            before = len(fake.posts(SUPPORT))
            started = time.perf_counter()
            for round_no in range(args.rounds):
                events = [
                    driver.message_event(
                        f"UBENCH{round_no:02d}{n:02d}", SUPPORT, QUESTIONS[n % len(QUESTIONS)]
                    )
                    for n in range(args.concurrency)
                ]
                barrier = threading.Barrier(args.concurrency)

                def send(event: dict[str, object], barrier: threading.Barrier = barrier) -> float:
                    barrier.wait()
                    response = driver.send_event(event)
                    assert response.status == 200, response
                    return response.seconds

                with ThreadPoolExecutor(args.concurrency) as pool:
                    acks.extend(pool.map(send, events))
            fake.wait_for(lambda: len(fake.posts(SUPPORT)) - before >= total, timeout=600, what="all replies")
            elapsed = time.perf_counter() - started
            assert fake.problems == [], fake.problems
            assert stack.errors == [], stack.errors

            direct_n = min(total, 100)
            t0 = time.perf_counter()
            for n in range(direct_n):
                with transaction(db.sessions) as session:
                    stack.services.engine.handle(
                        session,
                        Inquiry(QUESTIONS[n % len(QUESTIONS)], f"UDIRECT{n:03d}", f"bench:{n}", "bench"),
                    )
            direct_rate = direct_n / (time.perf_counter() - t0)
        finally:
            stack.server.shutdown()
            stack.server.server_close()
            fake.stop()
            engine.dispose()

    slack_rate = total / elapsed
    print(
        f"database: {url.split(':')[0]}  events: {total} "
        f"({args.rounds} rounds x {args.concurrency} concurrent)"
    )
    print(
        f"ack latency (signed event -> HTTP 200): p50 {statistics.median(acks) * 1000:.1f} ms, "
        f"p99 {percentile(acks, 0.99) * 1000:.1f} ms, max {max(acks) * 1000:.1f} ms (Slack's limit: 3000 ms)"
    )
    print(
        f"baseline GET /healthz, same server:   p50 {statistics.median(health) * 1000:.1f} ms, "
        f"p99 {percentile(health, 0.99) * 1000:.1f} ms  -> ack/baseline p50 ratio "
        f"{statistics.median(acks) / statistics.median(health):.1f}x"
    )
    print(
        f"throughput: {slack_rate:.1f} events/s handled end to end (reply posted to Slack); "
        f"baseline Engine.handle direct: {direct_rate:.1f} /s "
        f"-> Slack path is {slack_rate / direct_rate:.2f}x of it"
    )


if __name__ == "__main__":
    main()
