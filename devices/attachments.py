"""Images attached to a turn (SPEC CON-5): checked and stored when the console uploads
them, fetched once by the device's agent, which hands them to Codex as image input, and
pruned after a day.

The image never travels inside a command or an event: the command names it by id, so
the event log and every browser stream stay small, and the bytes cross the device's
socket not at all (the agent fetches them over HTTPS with its device token).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.ratelimit import Policy
from agent import protocol
from codexpanel import clock
from codexpanel.errors import ActionError, rate_limited

from .models import Attachment, Device

KEEP = timedelta(days=1)


def upload_policy() -> Policy:
    """Attachments per person: each stores up to the size limit for a day."""
    return Policy(
        "attachment_upload",
        limit=settings.CODEXPANEL_ATTACHMENTS_PER_HOUR,
        window=timedelta(hours=1),
        lockout=None,
        max_buckets=settings.CODEXPANEL_LOGIN_MAX_BUCKETS,
    )


def too_large() -> ActionError:
    limit = settings.CODEXPANEL_ATTACHMENT_MAX_BYTES
    size = f"{limit // 1048576} MB" if limit >= 1048576 else f"{max(1, limit // 1024)} KB"
    return ActionError("too_large", _("An image may be at most %(size)s.") % {"size": size}, 413)


def store_attachment(user: User, device: Device, upload: UploadedFile | None) -> Attachment:
    """Keep an uploaded image for `device` (authorized by the caller)."""
    limit = settings.CODEXPANEL_ATTACHMENT_MAX_BYTES
    if upload is None:
        raise ActionError("invalid_request", _("Send the image as the form field 'image'."), 400)
    if upload.size is None or upload.size == 0:
        raise ActionError("invalid_request", _("The image is empty."), 400)
    if upload.size > limit:
        raise too_large()
    data = upload.read()
    # Told by the file's first bytes, not by its name or the type the browser claims.
    kind = protocol.image_type(data[:16])
    if kind is None:
        message = _("Attach a PNG, JPEG, WebP or GIF image.")
        raise ActionError("unsupported_type", message, 415)
    locked = upload_policy().hit(str(user.pk))
    if locked is not None:
        raise rate_limited(locked)
    return Attachment.objects.create(
        attachment_id="att_" + secrets.token_urlsafe(16),
        device=device,
        uploaded_by=user,
        content_type=kind[0],
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
        created_at=clock.now(),
    )


def attachment_for(device: Device, attachment_id: str) -> Attachment:
    """An attachment of this device; another device's answers like a missing one."""
    found = Attachment.objects.filter(
        device=device, attachment_id=attachment_id, created_at__gt=clock.now() - KEEP
    ).first()
    if found is None:
        raise ActionError("attachment_not_found", _("No such attachment."), 404)
    return found


def prune_attachments(now: datetime | None = None) -> int:
    cutoff = (now or clock.now()) - KEEP
    return Attachment.objects.filter(created_at__lt=cutoff).delete()[0]
