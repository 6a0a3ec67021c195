"""Images attached to a turn (SPEC CON-5): what the relay takes, who may upload and fetch
them, how long they are kept, and what a turn's input may name."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from devices.attachments import KEEP, prune_attachments
from devices.models import Attachment

from .images import png
from .pairing import csrf_token
from .realtime import make_device

pytestmark = pytest.mark.django_db

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32


def upload(person, device, data: bytes, name: str = "shot.png", kind: str = "image/png"):
    image = SimpleUploadedFile(name, data, content_type=kind)
    return person.client.post(
        f"/api/devices/{device.device_id}/attachments",
        {"image": image},
        HTTP_X_CSRFTOKEN=csrf_token(person.client),
    )


def agent_get(token: str, attachment_id: str):
    return Client().get(
        f"/api/agent/attachments/{attachment_id}", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


@pytest.mark.parametrize(
    "data, kind", [(png(), "image/png"), (JPEG, "image/jpeg"), (WEBP, "image/webp")]
)
def test_an_image_is_kept_for_its_computer_which_fetches_it_whole(person, paired, data, kind):
    device, token = paired
    answer = upload(person, device, data, kind="application/octet-stream")
    assert answer.status_code == 201
    body = answer.json()
    assert body["contentType"] == kind and body["size"] == len(data)
    assert body["attachmentId"].startswith("att_") and len(body["attachmentId"]) >= 26
    fetched = agent_get(token, body["attachmentId"])
    assert fetched.status_code == 200
    assert fetched.content == data
    assert fetched["Content-Type"] == kind
    assert fetched["X-Content-Type-Options"] == "nosniff"


def test_what_is_not_an_image_is_refused_whatever_its_name_says(person, paired):
    answer = upload(person, paired[0], b"<svg onload=alert(1)>", name="x.png")
    assert answer.status_code == 415
    assert answer.json()["error"]["code"] == "unsupported_type"
    assert not Attachment.objects.exists()


def test_an_empty_upload_or_a_missing_field_is_refused(person, paired):
    device = paired[0]
    assert upload(person, device, b"").status_code == 400
    answer = person.client.post(
        f"/api/devices/{device.device_id}/attachments",
        {},
        HTTP_X_CSRFTOKEN=csrf_token(person.client),
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_request"


def test_an_image_over_the_limit_is_refused_and_not_stored(person, paired, settings):
    settings.CODEXPANEL_ATTACHMENT_MAX_BYTES = 1024
    answer = upload(person, paired[0], png() + b"\x00" * 2048)
    assert answer.status_code == 413
    assert answer.json()["error"] == {
        "code": "too_large",
        "message": "An image may be at most 1 KB.",
    }
    assert not Attachment.objects.exists()


def test_an_upload_declared_too_large_is_refused_before_it_is_read(person, paired, settings):
    settings.CODEXPANEL_ATTACHMENT_MAX_BYTES = 1024
    answer = person.client.generic(
        "POST",
        f"/api/devices/{paired[0].device_id}/attachments",
        b"",
        content_type="multipart/form-data; boundary=x",
        HTTP_X_CSRFTOKEN=csrf_token(person.client),
        CONTENT_LENGTH=str(10 * 1024 * 1024),
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "too_large"


def test_uploads_are_rate_limited_per_person(person, paired, settings):
    settings.CODEXPANEL_ATTACHMENTS_PER_HOUR = 2
    assert upload(person, paired[0], png()).status_code == 201
    assert upload(person, paired[0], png()).status_code == 429
    assert Attachment.objects.count() == 1


def test_another_persons_computer_takes_no_upload(person, make_user):
    other, _token = make_device(make_user("bob"), "bobs-desk-0001")
    answer = upload(person, other, png())
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "device_not_found"


def test_another_computer_cannot_fetch_the_image(person, paired, ada):
    device, _token = paired
    _laptop, laptop_token = make_device(ada, "laptop-0002-abcdef")
    attachment_id = upload(person, device, png()).json()["attachmentId"]
    answer = agent_get(laptop_token, attachment_id)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "attachment_not_found"
    assert Client().get(f"/api/agent/attachments/{attachment_id}").status_code == 401


def test_an_upload_needs_a_signed_in_person_and_a_csrf_token(paired):
    image = SimpleUploadedFile("shot.png", png(), content_type="image/png")
    answer = Client(enforce_csrf_checks=True).post(
        f"/api/devices/{paired[0].device_id}/attachments", {"image": image}
    )
    assert answer.status_code in (401, 403)
    assert not Attachment.objects.exists()


def test_images_are_pruned_after_a_day_and_no_longer_fetched(person, paired, clock):
    device, token = paired
    attachment_id = upload(person, device, png()).json()["attachmentId"]
    clock.advance(seconds=KEEP.total_seconds() + 1)
    assert agent_get(token, attachment_id).status_code == 404
    assert prune_attachments() == 1
    assert not Attachment.objects.exists()


@pytest.mark.parametrize(
    "item, field, message",
    [
        (
            {"type": "localImage", "path": "/etc/shadow"},
            "params.input[0]",
            "params.input[0]: input items are text or attachment",
        ),
        (
            {"type": "image", "url": "http://x/a.png"},
            "params.input[0]",
            "params.input[0]: input items are text or attachment",
        ),
        (
            {"type": "attachment", "attachmentId": "../../etc"},
            "params.input[0].attachmentId",
            "params.input[0].attachmentId must be the id the relay gave the image",
        ),
        ({"type": "text"}, "params.input[0].text", "params.input[0].text is required"),
    ],
)
def test_a_turn_names_only_text_and_attached_images(person, paired, item, field, message):
    answer = person.post(
        f"/api/devices/{paired[0].device_id}/commands",
        {"name": "startTurn", "params": {"threadId": "thr_1", "input": [item]}, "queue": True},
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == {
        "code": "invalid_params",
        "message": message,
        "details": {"field": field},
    }


def test_a_turn_takes_at_most_four_images(person, paired):
    item = {"type": "attachment", "attachmentId": "att_" + "a" * 22}
    answer = person.post(
        f"/api/devices/{paired[0].device_id}/commands",
        {"name": "startTurn", "params": {"threadId": "t", "input": [item] * 5}, "queue": True},
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == "a turn takes at most 4 images"


@pytest.mark.parametrize(
    "choice, message",
    [
        ({"model": "gpt 5; rm"}, "params.model must be a model id of letters, digits and ._:/-"),
        ({"effort": "HIGH!"}, "params.effort must be a reasoning effort such as low or high"),
        ({"model": 5}, "params.model must be text"),
    ],
)
def test_a_model_or_effort_that_cannot_be_one_is_refused(person, paired, choice, message):
    params = {"threadId": "t", "input": "hi", **choice}
    answer = person.post(
        f"/api/devices/{paired[0].device_id}/commands",
        {"name": "startTurn", "params": params, "queue": True},
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["code"], error["message"]) == ("invalid_params", message)
