"""URLs of the requests app: the person's pages (/requests/...), an organization's queue
(/orgs/<id>/requests/...) and archive downloads (/requests/exports/...)."""

from requests.views import exports, org, person

app_name = "data_requests"

urlpatterns = person.urlpatterns + org.urlpatterns + exports.urlpatterns
