"""Attaching an image to a turn (SPEC CON-5): the console uploads it, the device's agent
fetches it with its device token."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.serializers import ErrorSerializer

from .access import Use, authorize_device
from .attachments import attachment_for, store_attachment, too_large
from .authentication import DeviceTokenAuthentication
from .views import SignedInView

ERRORS = {code: ErrorSerializer for code in (400, 401, 403, 404, 413, 415, 429)}
# Room for the multipart envelope around the image itself.
ENVELOPE = 64 * 1024


class AttachmentSerializer(serializers.Serializer):
    attachmentId = serializers.CharField(source="attachment_id")
    contentType = serializers.CharField(source="content_type")
    size = serializers.IntegerField()


class AttachmentUploadSerializer(serializers.Serializer):
    image = serializers.FileField()


class AttachmentUploadView(SignedInView):
    parser_classes = [MultiPartParser]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Refused before anything reads the body (the CSRF check parses a form), so an
        # oversized upload costs the relay nothing.
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > settings.CODEXPANEL_ATTACHMENT_MAX_BYTES + ENVELOPE:
            raise too_large()
        super().initial(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={201: AttachmentSerializer, **ERRORS},
        summary="Attach an image for a turn; startTurn then names it (CON-5)",
    )
    def post(self, request: Request, device_id: str) -> Response:
        device = authorize_device(request.user, device_id, Use.OPERATE)
        attachment = store_attachment(request.user, device, request.FILES.get("image"))
        return Response(AttachmentSerializer(attachment).data, status=201)


class AgentAttachmentView(APIView):
    """The agent fetches an image its device was sent, to hand it to Codex."""

    authentication_classes = [DeviceTokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={(200, "image/*"): OpenApiTypes.BINARY, **ERRORS})
    def get(self, request: Request, attachment_id: str) -> HttpResponse:
        attachment = attachment_for(request.auth, attachment_id)
        response = HttpResponse(bytes(attachment.data), content_type=attachment.content_type)
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "no-store"
        return response
