from django.urls import path

from . import views

app_name = "setup"

urlpatterns = [
    path("start", views.StartView.as_view(), name="start"),
    path("poll", views.PollView.as_view(), name="poll"),
    path("approve", views.ApproveView.as_view(), name="approve"),
    path("deny", views.DenyView.as_view(), name="deny"),
    path("context", views.ContextView.as_view(), name="context"),
    path("complete", views.CompleteView.as_view(), name="complete"),
]

# Under /api/iam/desktop/setup/: these two act on the person's identity (SET-6).
iam_urlpatterns = [
    path("terminal-token", views.TerminalTokenView.as_view(), name="terminal-token"),
    path("login-token", views.LoginTokenView.as_view(), name="login-token"),
]
