"""A Web Push service on loopback, strict as a real one: every request must carry a valid
VAPID JWT (RFC 8292, ES256, for this service's origin, not expired, with a contact) and
an aes128gcm body (RFC 8188, 8291) that the subscription's own keys decrypt. Tests read
what arrived, decrypted; an endpoint may be told to answer 410 Gone, or to hold requests
until released (a slow service)."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Browser:
    """One browser's subscription keys, as PushManager.subscribe() makes them."""

    def __init__(self, service: PushService, name: str) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.auth = secrets.token_bytes(16)
        self.endpoint = f"{service.base_url}/push/{name}"

    def subscription(self) -> dict[str, Any]:
        point = self.private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "keys": {"p256dh": b64encode(point), "auth": b64encode(self.auth)},
        }


def check_vapid(header: str, audience: str) -> dict[str, Any]:
    """The JWT's claims if the Authorization header is a valid VAPID one, else raise."""
    scheme, _, rest = header.partition(" ")
    assert scheme == "vapid", header
    fields = dict(part.strip().split("=", 1) for part in rest.split(","))
    signed, _, signature = fields["t"].rpartition(".")
    head, body = (json.loads(b64decode(part)) for part in signed.split("."))
    assert head == {"typ": "JWT", "alg": "ES256"}, head
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64decode(fields["k"]))
    raw = b64decode(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        key.verify(der, signed.encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise AssertionError("the VAPID signature does not verify") from None
    assert body["aud"] == audience, body
    assert time.time() < body["exp"] <= time.time() + 24 * 3600, body
    assert body["sub"].startswith(("mailto:", "https://")), body
    return {"claims": body, "key": fields["k"]}


class PushService:
    def __init__(self) -> None:
        self.browsers: dict[str, Browser] = {}
        self.received: list[dict[str, Any]] = []
        self.problems: list[str] = []
        self.gone: set[str] = set()
        self.held = threading.Event()
        self.held.set()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def browser(self, name: str) -> Browser:
        self.browsers[name] = Browser(self, name)
        return self.browsers[name]

    def wait_for(self, count: int, timeout: float = 15) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            assert not self.problems, self.problems
            assert time.monotonic() < deadline, f"{len(self.received)} of {count} pushes came"
            time.sleep(0.05)
        assert not self.problems, self.problems
        return self.received

    def close(self) -> None:
        self.held.set()
        self.server.shutdown()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                name = self.path.rsplit("/", 1)[-1]
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                service.held.wait(30)
                if name in service.gone:
                    self.send_response(410)
                    self.end_headers()
                    return
                try:
                    vapid = check_vapid(self.headers["Authorization"], service.base_url)
                    assert self.headers["Content-Encoding"] == "aes128gcm"
                    assert int(self.headers["TTL"]) > 0
                    browser = service.browsers[name]
                    plain = http_ece.decrypt(
                        body, private_key=browser.private, auth_secret=browser.auth
                    )
                    service.received.append({"browser": name, "notice": json.loads(plain), **vapid})
                except Exception as problem:  # a bad push is the finding
                    service.problems.append(f"{type(problem).__name__}: {problem}")
                    self.send_response(400)
                    self.end_headers()
                    return
                self.send_response(201)
                self.end_headers()

        return Handler
