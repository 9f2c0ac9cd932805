"""The consent app's part of the demo (``manage.py seed_demo``): a third-party service in
the catalog whose deletion endpoint works (SVC-1, SVC-3).

The demo provider's endpoint is the portal's own development receiver
(``/dev/deletion-notices/<code>/``, ``consent.views.deletion_receiver``): it verifies the
signature and acknowledges, so the owner who opens and closes the service sees the
notice go out and come back acknowledged. The entry goes through the catalog service
like any staff change (audited), with a fresh signing secret. Seeding again changes
nothing, except the endpoint's address when the portal is served elsewhere."""

from __future__ import annotations

import secrets

from consent.models.sharing import DataScope, Service, ServiceKind
from consent.services.sharing import save_catalog_service
from organizations.services.demo_data.journeys import DemoContext
from organizations.services.demo_data.logins import STAFF

DEMO_SERVICE_CODE = "demo-traveldesk"
DEMO_SERVICE = {
    "name": "差旅通 TravelDesk",
    "kind": ServiceKind.THIRD_PARTY,
    "description": (
        "为成员预订差旅，需要成员的姓名和部门。演示用服务商：其删除通知地址是本门户的开发接收端。 "
        "Books business trips for members; receives their names and departments. A demo provider: its deletion "
        "notice endpoint is this portal's development receiver."
    ),
    "provider_name": "演示差旅服务有限公司 Demo Travel Services Ltd.",
    "privacy_policy_url": "https://traveldesk.example.com/privacy",
    "data_scopes": [DataScope.NAME.value, DataScope.DEPARTMENTS.value],
    "listed": True,
}


def receiver_url(portal_url: str, code: str = DEMO_SERVICE_CODE) -> str:
    return f"{portal_url.rstrip('/')}/dev/deletion-notices/{code}/"


def ensure_demo_service(context: DemoContext) -> int:
    """The demo's third-party service, with the development receiver as its deletion
    endpoint under ``context.portal_url``; 1 when it was added or its endpoint moved."""
    staff = context.users.get(STAFF.role)
    if staff is None:
        return 0
    url = receiver_url(context.portal_url)
    service = Service.objects.filter(code=DEMO_SERVICE_CODE).first()
    if service is None:
        service = Service(code=DEMO_SERVICE_CODE, notice_url=url, **DEMO_SERVICE)
        save_catalog_service(staff, service, notice_secret=secrets.token_urlsafe(32))
        return 1
    if service.notice_url == url and service.notice_secret:
        return 0
    service.notice_url = url
    save_catalog_service(staff, service, notice_secret="" if service.notice_secret else secrets.token_urlsafe(32))
    return 1
