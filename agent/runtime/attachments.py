"""Images attached to a turn from the console (SPEC CON-5): fetched from the relay with
the device token, checked again, and saved where Codex can read them as localImage input.
Saved images are kept a day, as on the relay."""

from __future__ import annotations

import os
import time
from pathlib import Path

from .. import protocol
from ..relay_client import RelayClient, RelayError
from ..terminal import Failure

KEEP_SECONDS = 24 * 3600
# The relay refuses larger images; anything bigger here was not sent by it.
MAX_BYTES = 32 * 1024 * 1024


class AttachmentFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def fetch(relay_url: str, token: str, attachment_id: str, folder: Path) -> Path:
    """The attached image as a local file for Codex."""
    if protocol.ATTACHMENT_ID.fullmatch(attachment_id) is None:
        raise AttachmentFailed("invalid_params", "that is not an attachment id")
    try:
        data = RelayClient(relay_url).get_bytes(
            f"/api/agent/attachments/{attachment_id}", token=token
        )
    except RelayError as error:
        raise AttachmentFailed(error.code, f"the relay did not give the image: {error}") from None
    except Failure as error:
        raise AttachmentFailed("relay_unreachable", str(error)) from None
    kind = protocol.image_type(data[:16])
    if kind is None or len(data) > MAX_BYTES:
        raise AttachmentFailed("unsupported_type", "the attachment is not an image Codex reads")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    _forget_old(folder)
    path = folder / f"{attachment_id}{kind[1]}"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    return path


def _forget_old(folder: Path) -> None:
    cutoff = time.time() - KEEP_SECONDS
    for old in folder.iterdir():
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:
            continue  # gone already, or not ours to remove
