"""Pages of the consent app, one module per area; each module holds its ``urlpatterns``,
which ``consent.urls`` joins."""
