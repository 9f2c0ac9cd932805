"""Organization certification (ORG-2, EN I(II)5): validation that writes nothing on bad
input, documents encrypted at rest in the private media root and removed again on
rollback, one submission under review at a time, and the operations review in the
Django admin (masked ID number, audited downloads, approve, reject with a reason)."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse
from PIL import Image

from dataprotection.files import read_decrypted
from dataprotection.identifiers import credit_code_check_char, id_number_check_digit, is_valid_credit_code
from dataprotection.masking import mask_id_number
from dataprotection.models import AuditEvent
from organizations.forms.registration import ATTESTATION_TEXT
from organizations.models import Certification, CertificationStatus, Organization
from organizations.permissions import org_access
from organizations.services import registration as services

pytestmark = pytest.mark.django_db

CREDIT_CODE = "91350100M000100Y43"
ID_NUMBER = "11010519491231002" + id_number_check_digit("11010519491231002")
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 24), (31, 111, 92)).save(buffer, format="PNG")
    return buffer.getvalue()


PNG = png_bytes()


@pytest.fixture
def private_root(settings, tmp_path):
    root = tmp_path / "private"
    settings.PRIVATE_MEDIA_ROOT = root
    return root


def stored_files(root) -> list:
    return sorted(root.iterdir()) if root.exists() else []


def form_data(**overrides) -> dict:
    data = {
        "registration_number": CREDIT_CODE,
        "legal_representative_name": "张三 Zhang San",
        "legal_representative_id_number": ID_NUMBER,
        "business_licence": SimpleUploadedFile("licence.pdf", PDF, content_type="application/pdf"),
        "certification_letter": SimpleUploadedFile("letter.png", PNG, content_type="image/png"),
        "attestation": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def certification_url(cast) -> str:
    return reverse("organizations:certification", args=[cast.organization.pk])


def submit(cast) -> Certification:
    access = org_access(cast.owner, cast.organization.pk)
    return services.submit_certification(
        access,
        {
            "registration_number": CREDIT_CODE,
            "legal_representative_name": "张三 Zhang San",
            "legal_representative_id_number": ID_NUMBER,
            "attestation": str(ATTESTATION_TEXT),
        },
        {"business_licence": (PDF, "application/pdf"), "certification_letter": (PNG, "image/png")},
        ip="127.0.0.1",
    )


# --------------------------------------------------------------------------- identifiers


def test_credit_code_check_character():
    """GB 32100-2015: 18 characters without I, O, S, V, Z; the last is a MOD 31 check."""
    assert is_valid_credit_code(CREDIT_CODE)
    assert is_valid_credit_code(" 91350100m000100y43 ")  # normalized
    assert credit_code_check_char(CREDIT_CODE[:17]) == "3"
    assert not is_valid_credit_code(CREDIT_CODE[:17] + "4")
    assert not is_valid_credit_code("91350100M000100Y4")  # 17 characters
    assert not is_valid_credit_code("91350100M000100O43")  # O is not in the character set
    assert not is_valid_credit_code("")


# --------------------------------------------------------------------------- submission


def test_owner_submits_and_documents_are_encrypted(client, cast, private_root):
    """ORG-2: the submission is recorded under review; both documents are stored
    encrypted under random names, and the legal representative's data is encrypted."""
    client.force_login(cast.owner)
    response = client.post(certification_url(cast), form_data())
    assert response.status_code == 302
    certification = Certification.objects.get(organization=cast.organization)
    assert certification.status == CertificationStatus.PENDING
    assert certification.submitted_by == cast.owner
    assert certification.attestation == (
        "I confirm that the legal representative named above has authorized this certification and these documents"
    )
    assert (certification.business_licence_type, certification.certification_letter_type) == (
        "application/pdf",
        "image/png",
    )
    cast.organization.refresh_from_db()
    assert cast.organization.certification_status == CertificationStatus.PENDING

    files = stored_files(private_root)
    assert {path.name for path in files} == {certification.business_licence, certification.certification_letter}
    for path, original in (
        (private_root / certification.business_licence, PDF),
        (private_root / certification.certification_letter, PNG),
    ):
        raw = path.read_bytes()
        assert raw != original and original not in raw and original[:8] not in raw
        assert "licence" not in path.name and "letter" not in path.name
        assert read_decrypted(path.name, services.CERTIFICATION_FILE_PURPOSE) == original

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT legal_representative_name, legal_representative_id_number FROM "
            "organizations_certification WHERE id = %s",
            [certification.pk],
        )
        raw_name, raw_id = cursor.fetchone()
    assert raw_name.startswith("enc1:") and "Zhang" not in raw_name
    assert raw_id.startswith("enc1:") and ID_NUMBER not in raw_id

    event = AuditEvent.objects.get(action="certification.submitted")
    assert (event.actor, event.organization_id) == (cast.owner, cast.organization.pk)

    page = client.get(certification_url(cast)).content.decode()
    assert "Under review" in page
    assert 'name="registration_number"' not in page  # no second form while under review


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"registration_number": CREDIT_CODE[:17] + "4"}, "not a valid unified social credit code"),
        ({"legal_representative_id_number": ID_NUMBER[:17] + ("0" if ID_NUMBER[17] != "0" else "1")}, "ID card"),
        (
            {"business_licence": SimpleUploadedFile("licence.pdf", b"just text, not a PDF", "application/pdf")},
            "Upload a PDF, PNG or JPEG file.",
        ),
        (
            {"certification_letter": SimpleUploadedFile("letter.png", b"GIF89a\x01\x00", "image/png")},
            "Upload a PDF, PNG or JPEG file.",
        ),
        ({"business_licence": SimpleUploadedFile("big.pdf", PDF + b"0" * 2048, "application/pdf")}, "largest"),
        ({"certification_letter": None}, "This field is required."),
        ({"attestation": None}, "Confirm that the legal representative authorized"),
        ({"legal_representative_name": "   "}, "This field is required."),
    ],
    ids=[
        "credit-check-char",
        "id-number",
        "text-as-pdf",
        "gif-as-png",
        "oversized",
        "no-letter",
        "no-attestation",
        "no-name",
    ],
)
def test_invalid_submission_writes_nothing(client, cast, private_root, settings, overrides, message):
    settings.CERTIFICATION_FILE_MAX_BYTES = 1024
    client.force_login(cast.owner)
    response = client.post(certification_url(cast), form_data(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Certification.objects.exists()
    assert stored_files(private_root) == []
    cast.organization.refresh_from_db()
    assert cast.organization.certification_status == CertificationStatus.UNCERTIFIED
    assert not AuditEvent.objects.filter(action="certification.submitted").exists()


def test_jpeg_is_accepted_by_its_content_whatever_its_name(client, cast, private_root):
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="JPEG")
    client.force_login(cast.owner)
    upload = SimpleUploadedFile("scan.pdf", buffer.getvalue(), content_type="application/pdf")
    assert client.post(certification_url(cast), form_data(business_licence=upload)).status_code == 302
    assert Certification.objects.get().business_licence_type == "image/jpeg"


def test_second_submission_while_pending_is_refused(client, cast, private_root):
    first = submit(cast)
    client.force_login(cast.owner)
    response = client.post(certification_url(cast), form_data())
    assert response.status_code == 302
    assert "already under review" in client.get(response["Location"]).content.decode()
    assert list(Certification.objects.values_list("pk", flat=True)) == [first.pk]
    with pytest.raises(ValidationError, match="already under review"):
        submit(cast)
    assert len(stored_files(private_root)) == 2  # only the first submission's documents


def test_rollback_removes_written_documents(cast, private_root, monkeypatch):
    """Files are written inside the transaction; a failure afterwards deletes them."""

    def fail(*args, **kwargs):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(services, "record_event", fail)
    with pytest.raises(RuntimeError):
        submit(cast)
    assert not Certification.objects.exists()
    assert stored_files(private_root) == []
    assert Organization.objects.get(pk=cast.organization.pk).certification_status == CertificationStatus.UNCERTIFIED


def test_only_the_owner_may_submit(cast, private_root):
    access = org_access(cast.sub_admin, cast.organization.pk)
    with pytest.raises(PermissionDenied):
        services.submit_certification(access, {}, {})
    assert stored_files(private_root) == []


# --------------------------------------------------------------------------- operations review


@pytest.fixture
def pending(cast, private_root):
    return submit(cast)


@pytest.fixture
def staff_client(client, cast):
    client.force_login(cast.staff)
    return client


def file_url(certification, which: str) -> str:
    return reverse("admin:organizations_certification_file", args=[certification.pk, which])


def review_url(certification) -> str:
    return reverse("admin:organizations_certification_review", args=[certification.pk])


def test_admin_list_filters_by_status(staff_client, pending):
    url = reverse("admin:organizations_certification_changelist")
    assert CREDIT_CODE in staff_client.get(url, {"status__exact": "pending"}).content.decode()
    assert CREDIT_CODE not in staff_client.get(url, {"status__exact": "approved"}).content.decode()


def test_admin_change_page_masks_the_id_number(staff_client, pending):
    page = staff_client.get(reverse("admin:organizations_certification_change", args=[pending.pk])).content.decode()
    assert mask_id_number(ID_NUMBER) in page
    assert ID_NUMBER not in page
    assert CREDIT_CODE in page
    assert "Hangzhou Example Co." in page
    assert "has authorized this certification" in page
    assert file_url(pending, "business_licence") in page
    assert file_url(pending, "certification_letter") in page
    assert review_url(pending) in page


@pytest.mark.parametrize(
    ("which", "content", "content_type"),
    [("business_licence", PDF, "application/pdf"), ("certification_letter", PNG, "image/png")],
)
def test_staff_download_returns_the_original_and_is_audited(staff_client, cast, pending, which, content, content_type):
    response = staff_client.get(file_url(pending, which))
    assert response.status_code == 200
    assert response.content == content
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"].startswith("attachment;")
    assert "no-store" in response["Cache-Control"]
    event = AuditEvent.objects.get(action="certification.file_viewed")
    assert (event.actor, event.organization_id, event.metadata) == (cast.staff, cast.organization.pk, {"file": which})
    assert event.target_id == str(pending.pk)


@pytest.mark.parametrize("role", ["owner", "member_user", "anonymous"])
def test_download_is_for_staff_only(client, cast, pending, role):
    if role != "anonymous":
        client.force_login(getattr(cast, role))
    response = client.get(file_url(pending, "business_licence"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert not AuditEvent.objects.filter(action="certification.file_viewed").exists()


def test_download_of_an_unknown_file_is_404(staff_client, pending):
    assert staff_client.get(file_url(pending, "legal_representative_id_number")).status_code == 404


def test_approve(staff_client, cast, pending):
    response = staff_client.post(review_url(pending), {"decision": "approve"})
    assert response.status_code == 302
    pending.refresh_from_db()
    assert (pending.status, pending.reviewed_by) == (CertificationStatus.APPROVED, cast.staff)
    assert pending.reviewed_at is not None
    assert Organization.objects.get(pk=cast.organization.pk).certification_status == CertificationStatus.APPROVED
    assert AuditEvent.objects.filter(action="certification.approved", organization_id=cast.organization.pk).exists()

    owner = Client()
    owner.force_login(cast.owner)
    page = owner.get(certification_url(cast)).content.decode()
    assert "Certified" in page
    assert 'name="registration_number"' not in page  # certified: nothing more to submit


def test_review_page_offers_both_decisions(staff_client, client, cast, pending):
    page = staff_client.get(review_url(pending)).content.decode()
    assert 'value="approve"' in page and 'value="reject"' in page
    assert "Reason for rejecting" in page
    assert mask_id_number(ID_NUMBER) in page and ID_NUMBER not in page
    other = Client()
    other.force_login(cast.owner)
    assert other.post(review_url(pending), {"decision": "approve"})["Location"].startswith(reverse("admin:login"))
    assert Certification.objects.get(pk=pending.pk).status == CertificationStatus.PENDING


def test_reject_without_reason_is_refused(staff_client, pending):
    response = staff_client.post(review_url(pending), {"decision": "reject", "reason": "   "})
    assert response.status_code == 200
    assert "Give the reason for rejecting." in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == CertificationStatus.PENDING
    assert not AuditEvent.objects.filter(action="certification.rejected").exists()


def test_reject_with_reason_lets_the_owner_submit_again(staff_client, cast, pending, private_root):
    reason = "The licence scan is unreadable."
    response = staff_client.post(review_url(pending), {"decision": "reject", "reason": reason})
    assert response.status_code == 302
    pending.refresh_from_db()
    assert (pending.status, pending.review_reason) == (CertificationStatus.REJECTED, reason)
    assert Organization.objects.get(pk=cast.organization.pk).certification_status == CertificationStatus.REJECTED
    assert AuditEvent.objects.filter(action="certification.rejected").exists()

    owner = Client()
    owner.force_login(cast.owner)
    page = owner.get(certification_url(cast)).content.decode()
    assert reason in page
    assert "Submit again" in page
    assert owner.post(certification_url(cast), form_data()).status_code == 302
    assert Certification.objects.filter(status=CertificationStatus.PENDING).count() == 1


def test_review_services_compare_and_set(cast, pending):
    services.approve_certification(pending, cast.staff)
    with pytest.raises(ValidationError, match="no longer under review"):
        services.reject_certification(pending, cast.staff, "too late")
    with pytest.raises(ValidationError, match="no longer under review"):
        services.approve_certification(Certification.objects.get(pk=pending.pk), cast.staff)
    assert Certification.objects.get(pk=pending.pk).status == CertificationStatus.APPROVED


def test_review_services_require_reason_and_staff(cast, pending):
    with pytest.raises(ValidationError, match="reason"):
        services.reject_certification(pending, cast.staff, "  ")
    with pytest.raises(PermissionDenied):
        services.approve_certification(pending, cast.owner)
    with pytest.raises(PermissionDenied):
        services.read_certification_file(pending, "business_licence", cast.owner)
    assert Certification.objects.get(pk=pending.pk).status == CertificationStatus.PENDING
