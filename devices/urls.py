from django.urls import path

from . import attachment_views, console_views, push_views, views
from .realtime import command_views

app_name = "devices"

urlpatterns = [
    path("api/devices", views.DeviceListView.as_view(), name="list"),
    path("api/devices/<str:device_id>", views.DeviceDetailView.as_view(), name="detail"),
    path(
        "api/devices/<str:device_id>/revoke-token",
        views.RevokeTokenView.as_view(),
        name="revoke-token",
    ),
    path(
        "api/devices/<str:device_id>/commands",
        command_views.waits_for_results(command_views.CommandListView.as_view()),
        name="commands",
    ),
    path(
        "api/devices/<str:device_id>/commands/<str:command_id>",
        command_views.command_detail,
        name="command",
    ),
    path(
        "api/devices/<str:device_id>/events",
        command_views.EventHistoryView.as_view(),
        name="events",
    ),
    path(
        "api/devices/<str:device_id>/threads",
        console_views.LoggedThreadListView.as_view(),
        name="threads",
    ),
    path(
        "api/devices/<str:device_id>/attachments",
        attachment_views.AttachmentUploadView.as_view(),
        name="attachments",
    ),
    path(
        "api/agent/attachments/<str:attachment_id>",
        attachment_views.AgentAttachmentView.as_view(),
        name="agent-attachment",
    ),
    path("api/attention", console_views.AttentionView.as_view(), name="attention"),
    path("api/push/config", push_views.PushConfigView.as_view(), name="push-config"),
    path("api/push/subscription", push_views.SubscriptionView.as_view(), name="push-subscription"),
    path("api/push/answer", push_views.PushAnswerView.as_view(), name="push-answer"),
    path("api/sessions", console_views.SessionSearchView.as_view(), name="sessions"),
    path("api/agent/device", views.AgentDeviceView.as_view(), name="agent-device"),
    path("agent/version", views.agent_manifest, name="agent-version"),
    path("agent/<path:path>", views.agent_file, name="agent-file"),
]
