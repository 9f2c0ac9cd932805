"""The organizations app's models, one module per area; every model (and its choices)
is re-exported here so that ``from organizations.models import X`` works and Django
registers them.

- ``organization``: the organization, its kinds, editions and rights, its certification
- ``departments``: the department tree
- ``members``: the roster
- ``administrators``: administrators and the grants of their rights
- ``records``: activity records and other member data of the first-party services
- ``children``: who is a child (the age rules) and guardians' consents
- ``collection``: which roster fields are collected
- ``imports``: roster imports and upload attestations
- ``invitations``: invitations to join
- ``retention``: retention settings and service shutdowns
- ``incidents``: security incidents and their notices
"""

from organizations.models.administrators import (
    GROUP_GRANT_PERSONAL_DATA,
    USER_GRANT_PERSONAL_DATA,
    Administrator,
    AdministratorRole,
    DepartmentGroupObjectPermission,
    DepartmentUserObjectPermission,
    OrganizationGroupObjectPermission,
    OrganizationUserObjectPermission,
)
from organizations.models.children import (
    GuardianConsent,
    GuardianMethod,
)
from organizations.models.collection import CollectionSetting
from organizations.models.departments import Department
from organizations.models.imports import (
    AttestationKind,
    ImportMode,
    ImportStatus,
    RosterImport,
    UploadAttestation,
)
from organizations.models.incidents import (
    DataCategory,
    DeadlineState,
    IncidentAffectedPerson,
    IncidentNotice,
    IncidentStatus,
    NoticeChannel,
    NoticeStatus,
    SecurityIncident,
)
from organizations.models.invitations import (
    Invitation,
    InvitationStatus,
)
from organizations.models.members import (
    Degree,
    LaborContractStatus,
    Member,
    MemberDepartment,
    MemberStatus,
)
from organizations.models.organization import (
    RIGHT_PERMISSIONS,
    Certification,
    CertificationStatus,
    Edition,
    Organization,
    OrganizationKind,
    OrganizationStatus,
    Right,
    StaffSize,
)
from organizations.models.records import (
    ApprovalKind,
    ApprovalRecord,
    ApprovalStatus,
    AttendancePunch,
    BiometricKind,
    BiometricTemplate,
    DriveFile,
    ExternalContactCard,
    FamilyContact,
    PunchKind,
    ScheduleEntry,
    WorkLog,
)
from organizations.models.retention import (
    RECORD_TABLES,
    RecordKind,
    RetentionSetting,
    ServiceShutdown,
    ShutdownStatus,
)

__all__ = [
    "GROUP_GRANT_PERSONAL_DATA",
    "RECORD_TABLES",
    "RIGHT_PERMISSIONS",
    "USER_GRANT_PERSONAL_DATA",
    "Administrator",
    "AdministratorRole",
    "ApprovalKind",
    "ApprovalRecord",
    "ApprovalStatus",
    "AttendancePunch",
    "AttestationKind",
    "BiometricKind",
    "BiometricTemplate",
    "Certification",
    "CertificationStatus",
    "CollectionSetting",
    "DataCategory",
    "DeadlineState",
    "Degree",
    "Department",
    "DepartmentGroupObjectPermission",
    "DepartmentUserObjectPermission",
    "DriveFile",
    "Edition",
    "ExternalContactCard",
    "FamilyContact",
    "GuardianConsent",
    "GuardianMethod",
    "ImportMode",
    "ImportStatus",
    "IncidentAffectedPerson",
    "IncidentNotice",
    "IncidentStatus",
    "Invitation",
    "InvitationStatus",
    "LaborContractStatus",
    "Member",
    "MemberDepartment",
    "MemberStatus",
    "NoticeChannel",
    "NoticeStatus",
    "Organization",
    "OrganizationGroupObjectPermission",
    "OrganizationKind",
    "OrganizationStatus",
    "OrganizationUserObjectPermission",
    "PunchKind",
    "RecordKind",
    "RetentionSetting",
    "Right",
    "RosterImport",
    "ScheduleEntry",
    "SecurityIncident",
    "ServiceShutdown",
    "ShutdownStatus",
    "StaffSize",
    "UploadAttestation",
    "WorkLog",
]
