from django.urls import path

from . import views

app_name = "iam"

urlpatterns = [
    path("auth/status", views.AuthStatusView.as_view(), name="status"),
    path("auth/login", views.LoginView.as_view(), name="login"),
    path("auth/logout", views.LogoutView.as_view(), name="logout"),
    path("auth/register", views.RegisterView.as_view(), name="register"),
    path(
        "auth/email-code/request", views.EmailCodeRequestView.as_view(), name="email-code-request"
    ),
    path("auth/email-code/verify", views.EmailCodeVerifyView.as_view(), name="email-code-verify"),
]
