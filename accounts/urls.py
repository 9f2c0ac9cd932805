from django.urls import path

from accounts import views, views_reauth, views_two_factor

app_name = "accounts"

urlpatterns = [
    path("register/", views.register, name="register"),
    path("sign-in/", views.sign_in, name="login"),
    path("sign-in/second-step/", views.sign_in_second_step, name="sign_in_second_step"),  # SEC-1
    path("sign-out/", views.SignOutView.as_view(), name="logout"),
    path("password-reset/", views.password_reset, name="password_reset"),
    path("profile/", views.profile, name="profile"),
    path("profile/edit/", views.profile_edit, name="profile_edit"),
    path("profile/identity/", views.identity, name="identity"),
    path("profile/tokens/", views.api_tokens, name="api_tokens"),
    path("profile/access-log/", views.access_log, name="access_log"),
    path("reauthenticate/", views_reauth.reauthenticate, name="reauthenticate"),  # SEC-1
    path("profile/tokens/<int:token_id>/revoke/", views.revoke_token, name="revoke_token"),
    # two-factor authentication (SEC-1)
    path("two-factor/", views_two_factor.security, name="two_factor"),
    path("two-factor/enroll/", views_two_factor.enroll, name="two_factor_enroll"),
    path("two-factor/verify/", views_two_factor.verify, name="two_factor_verify"),
    path("two-factor/recovery-codes/", views_two_factor.recovery_codes, name="two_factor_recovery_codes"),
    path(
        "two-factor/recovery-codes.txt",
        views_two_factor.recovery_codes_download,
        name="two_factor_recovery_codes_download",
    ),
    path("two-factor/recovery-codes/new/", views_two_factor.regenerate, name="two_factor_regenerate"),
    path("two-factor/disable/", views_two_factor.disable, name="two_factor_disable"),
    path("delete/", views.delete_account, name="delete"),
    path("delete/cancel/", views.cancel_deletion, name="cancel_deletion"),
]
