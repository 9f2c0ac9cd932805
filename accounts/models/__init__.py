"""Personal accounts (ACC-1 to ACC-6), one module per area; every model is re-exported
here so that ``from accounts.models import User`` works (and Django finds them)."""

from accounts.models.codes import CodePurpose, OneTimeCode, OneTimeCodeQuerySet, SMSMessage, SMSStatus
from accounts.models.deletion import AccountDeletionRequest, DeletionStatus
from accounts.models.identity import IdentityVerification, VerificationStatus
from accounts.models.lockout import LockoutScope, SignInFailure, SignInLockout
from accounts.models.tokens import ApiToken, TokenScope
from accounts.models.users import DataRegion, Gender, User, UserManager, avatar_upload_to

__all__ = [
    "AccountDeletionRequest",
    "ApiToken",
    "CodePurpose",
    "DataRegion",
    "DeletionStatus",
    "Gender",
    "IdentityVerification",
    "LockoutScope",
    "OneTimeCode",
    "OneTimeCodeQuerySet",
    "SMSMessage",
    "SMSStatus",
    "SignInFailure",
    "SignInLockout",
    "TokenScope",
    "User",
    "UserManager",
    "VerificationStatus",
    "avatar_upload_to",
]
