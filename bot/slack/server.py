"""Serving the app: HTTP (Events API + interactivity at /slack/events, /healthz, /metrics) or
Socket Mode (when SLACK_APP_TOKEN is set), with the same health/metrics endpoints beside it.

The HTTP server is the standard library's WSGI server with one thread per request, which is
enough for Slack's traffic shape: requests only parse, verify and acknowledge; the work runs in
bolt's listener executor after the acknowledgement.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qsl
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt import App, BoltContext, BoltResponse
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.request import BoltRequest
from slack_bolt.request.internals import build_context

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
StartResponse = Callable[..., Any]


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)


class EventsHandler(SlackRequestHandler):
    """Bolt's WSGI handler, with form bodies read as forms.

    Bolt takes any form body that contains the word "payload" for an interactivity payload: a
    slash command whose text (or channel or user name) says "payload" — `/tierline report the
    upload payload is rejected` — parses to nothing, matches no listener and is answered 404,
    which Slack shows the person as "dispatch_failed". Such a body is read again as the form it is.
    """

    def dispatch(self, request: WsgiHttpRequest) -> BoltResponse:
        req = BoltRequest(body=request.get_body(), query=request.query_string, headers=request.get_headers())
        raw = req.raw_body
        if not req.body and raw and not raw.lstrip().startswith("{"):
            fields = dict(parse_qsl(raw, keep_blank_values=True))
            if fields and "payload" not in fields:
                req.body = fields
                req.context = build_context(BoltContext({}), fields)
        return self.app.dispatch(req)


def _json(start_response: StartResponse, status: str, body: dict[str, Any]) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def make_wsgi_app(
    app: App | None,
    health: Callable[[], dict[str, Any]] | None = None,
    metrics: Callable[[], bytes] | None = None,
) -> Callable[..., Iterable[bytes]]:
    """Routes /slack/events to bolt (None in Socket Mode), /healthz and /metrics to us.

    `metrics` renders the Prometheus exposition (bot.observability); default: the process registry.
    """
    bolt = EventsHandler(app, path=EVENTS_PATH) if app is not None else None

    def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return _json(start_response, "200 OK", {"ok": True, **(health() if health else {})})
        if path == "/metrics":
            data = metrics() if metrics else generate_latest()
            start_response(
                "200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(data)))]
            )
            return [data]
        if path == EVENTS_PATH and bolt is not None:
            return bolt(environ, start_response)
        return _json(start_response, "404 Not Found", {"ok": False, "error": "not_found"})

    return wsgi


def make_http_server(
    wsgi: Callable[..., Iterable[bytes]], *, host: str = "0.0.0.0", port: int = 3000
) -> ThreadingWSGIServer:
    """A threaded server (port 0: any free port; read `server.server_port`)."""
    server = make_server(host, port, wsgi, server_class=ThreadingWSGIServer, handler_class=QuietHandler)
    assert isinstance(server, ThreadingWSGIServer)
    return server


def serve_in_thread(server: ThreadingWSGIServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="tierline-http", daemon=True)
    thread.start()
    return thread


def socket_mode_handler(app: App, app_token: str) -> Any:
    """Socket Mode over slack_sdk's built-in WebSocket client, on the app's WebClient (SLACK_API_URL).

    `.connect()` connects and returns; `.start()` connects and blocks; `.close()` disconnects.
    """
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    return SocketModeHandler(app, app_token)


def start_socket_mode(app: App, app_token: str) -> None:
    """Blocks: connects to Slack over a WebSocket (no public URL needed)."""
    socket_mode_handler(app, app_token).start()
