"""The Slack Web API client: one place that decides base URL, timeouts and retry policy.

Slack answers 429 with Retry-After under load and, rarely, 5xx; slack_sdk's retry handlers wait
and retry those (and dropped connections) so a short storm costs latency, not messages. What still
fails after the retries raises, and the caller leaves the outbox row pending for the worker.
"""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler

DEFAULT_TIMEOUT_SECONDS = 10


def retry_handlers(*, rate_limit_retries: int = 3, server_error_retries: int = 2) -> list[RetryHandler]:
    return [
        ConnectionErrorRetryHandler(max_retry_count=2),
        RateLimitErrorRetryHandler(max_retry_count=rate_limit_retries),
        ServerErrorRetryHandler(max_retry_count=server_error_retries),
    ]


def make_web_client(
    token: str,
    api_url: str,
    *,
    timeout: int = DEFAULT_TIMEOUT_SECONDS,
    rate_limit_retries: int = 3,
    server_error_retries: int = 2,
) -> WebClient:
    """A WebClient on `api_url` (SLACK_API_URL: GovSlack, a proxy, or the test fake)."""
    return WebClient(
        token=token,
        base_url=api_url if api_url.endswith("/") else api_url + "/",
        timeout=timeout,
        retry_handlers=retry_handlers(
            rate_limit_retries=rate_limit_retries, server_error_retries=server_error_retries
        ),
    )
