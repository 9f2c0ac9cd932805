"""Pages of the requests app, one module per area; each module holds its
``urlpatterns``, which ``requests.urls`` joins."""
