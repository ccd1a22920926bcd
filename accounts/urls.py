from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("signup/", views.sign_up, name="sign_up"),
    path("signup/sent/", views.sign_up_done, name="sign_up_done"),
    path("verify-email/", views.verify_email_confirm, name="verify_email_confirm"),
    path("verify-email/again/", views.resend_verification, name="resend_verification"),
    path("verify-email/<str:token>/", views.verify_email, name="verify_email"),
    path("login/", auth_views.LoginView.as_view(template_name="accounts/log_in.html"), name="log_in"),
    path("logout/", auth_views.LogoutView.as_view(), name="log_out"),
    path("password-reset/", views.PasswordReset.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="registration/password_reset_done.html"),
        name="password_reset_done",
    ),
    path("password-reset/<uidb64>/<token>/", views.PasswordResetConfirm.as_view(), name="password_reset_confirm"),
    path(
        "password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="registration/password_reset_complete.html"),
        name="password_reset_complete",
    ),
    path("account/", views.account, name="account"),
    path("account/password/", views.SitePasswordChange.as_view(), name="password_change"),
    path("account/tokens/revoke/", views.revoke_tokens, name="revoke_tokens"),
    path("account/tokens/<uuid:token_id>/revoke/", views.revoke_token, name="revoke_token"),
    path("account/export/", views.export_data, name="export_data"),
    path("account/forget/", views.forget_me, name="forget_me"),
    path("people/", views.people, name="people"),
    path("people/<slug:username>/", views.profile, name="profile"),
    path("people/<slug:username>/followers/", views.followers, name="followers"),
    path("people/<slug:username>/following/", views.following, name="following"),
    path("people/<slug:username>/<slug:action>/", views.change_relationship, name="change_relationship"),
]
