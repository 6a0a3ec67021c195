"""The installer's HTTP calls to the relay: JSON in and out, 30-second timeouts, and the
relay's error shape turned into readable failures."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from .terminal import Failure

TIMEOUT = 30


class RelayError(Exception):
    """The relay answered with {"error": {"code", "message"}}."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class RelayClient:
    def __init__(self, base_url: str, timeout: float = TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _open(self, request: urllib.request.Request) -> bytes:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return response.read()
        except urllib.error.HTTPError as error:
            body = error.read()
            try:
                detail = json.loads(body)["error"]
            except (ValueError, KeyError, TypeError):
                raise RelayError(error.code, "http_error", f"HTTP {error.code}") from None
            raise RelayError(
                error.code,
                detail.get("code", "error"),
                detail.get("message", ""),
                detail.get("details"),
            ) from None
        except TimeoutError:
            raise Failure(
                f"The relay did not answer within {self.timeout:g} s ({self.base_url})",
                "服务器响应超时",
                "Check the network, then run the installer again.",
            ) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise Failure(
                f"Cannot reach the relay at {self.base_url}: {reason}",
                "无法连接服务器",
                "Check the address and the network, then run the installer again.",
            ) from None

    def _request(
        self, path: str, data: bytes | None = None, headers: dict[str, str] | None = None
    ) -> urllib.request.Request:
        # base_url is http(s) only: servers.resolve_server refuses anything else.
        return urllib.request.Request(  # noqa: S310
            f"{self.base_url}{path}",
            data=data,
            headers={"Accept": "application/json", **(headers or {})},
            method="POST" if data is not None else "GET",
        )

    def _json(self, body: bytes) -> Any:
        try:
            return json.loads(body)
        except ValueError:
            raise Failure(
                f"{self.base_url} answered with something that is not the relay's JSON",
                "服务器响应无效",
                "Check the address: is it a codexpanel relay?",
            ) from None

    def get(self, path: str, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self._json(self._open(self._request(path, headers=headers)))

    def get_bytes(self, path: str, token: str | None = None) -> bytes:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self._open(self._request(path, headers=headers))

    def post(self, path: str, body: dict[str, Any]) -> Any:
        request = self._request(
            path, json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        return self._json(self._open(request))
