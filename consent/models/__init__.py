"""Consent ledger, privacy settings, policy versions and service sharing (CON-1 to
CON-7, SVC-1 to SVC-5). One module per area; everything is importable from here."""

from consent.models.children import ChildSharing  # noqa: F401
from consent.models.ledger import (  # noqa: F401
    PURPOSES,
    Actor,
    Channel,
    ConsentRecord,
    Decision,
    Purpose,
)
from consent.models.policies import (  # noqa: F401
    PolicyAcknowledgement,
    PolicyEdition,
    PolicyPart,
    PolicyText,
    PolicyVersion,
    SignificantChange,
)
from consent.models.privacy import DevicePermission, PrivacySettings  # noqa: F401
from consent.models.sharing import (  # noqa: F401
    DataScope,
    DeletionNotice,
    Disclosure,
    GrantStatus,
    NoticeReason,
    NoticeStatus,
    PersonalAuthorization,
    ProviderToken,
    Service,
    ServiceKind,
    SharingGrant,
)
