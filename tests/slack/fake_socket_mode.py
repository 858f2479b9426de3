"""A minimal Socket Mode server (RFC 6455 WebSocket over 127.0.0.1) for testing `tierline serve`
in Socket Mode: it says hello, pushes envelopes, and records the app's acknowledgements."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import socket
import struct
import threading
import time
from typing import Any

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class FakeSocketMode:
    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(4)
        self._conn: socket.socket | None = None
        self._send_lock = threading.Lock()
        self.acks: list[dict[str, Any]] = []
        self.connected = threading.Event()
        self._stopped = False
        threading.Thread(target=self._accept, name="fake-socket-mode", daemon=True).start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._listener.getsockname()[1]}/link"

    def stop(self) -> None:
        self._stopped = True
        for sock in (self._conn, self._listener):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()

    # ------------------------------------------------------------------ protocol
    def _accept(self) -> None:
        while not self._stopped:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                request += chunk
            headers = dict(line.split(": ", 1) for line in request.decode().split("\r\n")[1:] if ": " in line)
            key = {k.lower(): v for k, v in headers.items()}["sec-websocket-key"]
            accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
            conn.sendall(
                (
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
                ).encode()
            )
            self._conn = conn
            self.send({"type": "hello", "num_connections": 1, "debug_info": {"host": "fake"}})
            self.connected.set()
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _frame(self, opcode: int, payload: bytes) -> bytes:
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x80 | opcode, length)
        elif length < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 126, length)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 127, length)
        return header + payload

    def send(self, message: dict[str, Any]) -> None:
        assert self._conn is not None
        with self._send_lock:
            self._conn.sendall(self._frame(0x1, json.dumps(message).encode()))

    def _recv_exact(self, conn: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def _read(self, conn: socket.socket) -> None:
        try:
            while True:
                first, second = self._recv_exact(conn, 2)
                opcode, length = first & 0x0F, second & 0x7F
                if length == 126:
                    (length,) = struct.unpack("!H", self._recv_exact(conn, 2))
                elif length == 127:
                    (length,) = struct.unpack("!Q", self._recv_exact(conn, 8))
                mask = self._recv_exact(conn, 4) if second & 0x80 else b"\0\0\0\0"
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self._recv_exact(conn, length)))
                if opcode == 0x1:
                    self.acks.append(json.loads(payload))
                elif opcode == 0x9:
                    with self._send_lock:
                        conn.sendall(self._frame(0xA, payload))
                elif opcode == 0x8:
                    return
        except (ConnectionError, OSError):
            return

    def push_event(self, envelope_id: str, payload: dict[str, Any]) -> None:
        self.send(
            {
                "envelope_id": envelope_id,
                "type": "events_api",
                "payload": payload,
                "accepts_response_payload": False,
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )

    def wait_for_ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ack in self.acks:
                if ack.get("envelope_id") == envelope_id:
                    return ack
            time.sleep(0.02)
        raise AssertionError(f"no ack for {envelope_id}; got {self.acks}")
