from django.urls import path

from accounts.views import access_log, deletion, profile, reauth, sign_in, tokens, two_factor

app_name = "accounts"

urlpatterns = [
    path("register/", sign_in.register, name="register"),
    path("sign-in/", sign_in.sign_in, name="login"),
    path("sign-in/second-step/", sign_in.sign_in_second_step, name="sign_in_second_step"),  # SEC-1
    path("sign-out/", sign_in.SignOutView.as_view(), name="logout"),
    path("password-reset/", sign_in.password_reset, name="password_reset"),
    path("profile/", profile.profile, name="profile"),
    path("profile/edit/", profile.profile_edit, name="profile_edit"),
    path("profile/identity/", profile.identity, name="identity"),
    path("profile/tokens/", tokens.api_tokens, name="api_tokens"),
    path("profile/access-log/", access_log.access_log, name="access_log"),
    path("reauthenticate/", reauth.reauthenticate, name="reauthenticate"),  # SEC-1
    path("profile/tokens/<int:token_id>/revoke/", tokens.revoke_token, name="revoke_token"),
    # two-factor authentication (SEC-1)
    path("two-factor/", two_factor.security, name="two_factor"),
    path("two-factor/enroll/", two_factor.enroll, name="two_factor_enroll"),
    path("two-factor/verify/", two_factor.verify, name="two_factor_verify"),
    path("two-factor/recovery-codes/", two_factor.recovery_codes, name="two_factor_recovery_codes"),
    path(
        "two-factor/recovery-codes.txt",
        two_factor.recovery_codes_download,
        name="two_factor_recovery_codes_download",
    ),
    path("two-factor/recovery-codes/new/", two_factor.regenerate, name="two_factor_regenerate"),
    path("two-factor/disable/", two_factor.disable, name="two_factor_disable"),
    path("delete/", deletion.delete_account, name="delete"),
    path("delete/cancel/", deletion.cancel_deletion, name="cancel_deletion"),
]
