"""Browser journey for an organization's owner, in Debian's chromium via Playwright:
register an organization (ORG-1), then submit it for certification with two documents
and the legal representative's attestation (ORG-2, EN I(II)5)."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from playwright.sync_api import expect

from dataprotection.identifiers import id_number_check_digit
from organizations.models import AdministratorRole, Certification, CertificationStatus, Organization
from tests.browser.pages import enroll_second_factor, sign_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.realservices]

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (31, 111, 92)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_register_and_submit_for_certification(page, settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    user = UserFactory(phone="+8613700003333", name="Zhou Min")
    sign_in(page, user)

    page.goto("/orgs/")
    page.get_by_role("link", name="Register an organization").click()
    page.get_by_label("Organization name").fill("Ningbo Harbour Tea")
    page.get_by_label("Kind of organization").select_option("enterprise")
    page.get_by_label("Location").fill("Ningbo")
    page.get_by_label("Industry").fill("Tea")
    page.get_by_label("Staff size").select_option("21-100")
    page.get_by_label("Edition").select_option("standard")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_text("Ningbo Harbour Tea is registered. You are its owner.")).to_be_visible()
    enroll_second_factor(page)  # SEC-1: an owner needs a second factor before the organization's pages
    expect(page.get_by_role("heading", name="Ningbo Harbour Tea", level=1)).to_be_visible()
    organization = Organization.objects.get(name="Ningbo Harbour Tea")
    assert organization.administrators.get().role == AdministratorRole.OWNER

    page.get_by_role("complementary", name="Organization").get_by_role("link", name="Certification").click()
    page.get_by_label("Unified social credit code").fill("91350100M000100Y43")
    page.get_by_label("Legal representative's name").fill("周敏 Zhou Min")
    page.get_by_label("Legal representative's ID number").fill(
        "11010519491231002" + id_number_check_digit("11010519491231002")
    )
    licence, letter = tmp_path / "licence.pdf", tmp_path / "letter.png"
    licence.write_bytes(PDF)
    letter.write_bytes(png_bytes())
    page.get_by_label("Business licence").set_input_files(str(licence))
    page.get_by_label("Certification letter").set_input_files(str(letter))
    page.get_by_label("I confirm that the legal representative named above has authorized").check()
    page.get_by_role("button", name="Submit for review").click()

    expect(page.get_by_text("Your certification was submitted.")).to_be_visible()
    expect(page.get_by_test_id("certification-status")).to_have_text("Under review")
    certification = Certification.objects.get(organization=organization)
    assert certification.status == CertificationStatus.PENDING
    assert len(list((tmp_path / "private").iterdir())) == 2
