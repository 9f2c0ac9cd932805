"""Serializers of the data-subject request API: strict input, truthful output."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dataprotection.api.strict import StrictSerializer
from requests.models import (
    DataSubjectRequest,
    DeletionGround,
    EventKind,
    ExportStatus,
    Jurisdiction,
    RefusalGround,
    RequestEvent,
    RequestKind,
    RequestStatus,
)
from requests.selectors import default_jurisdiction
from requests.services.workflow import NOTE_MAX_LENGTH


def choice_text(choices, **kwargs) -> serializers.CharField:
    """A read-only code of ``choices``, documented by its values rather than an enum
    component: several apps name different choice sets "status" or "kind", and one
    enum name per field name keeps the schema free of naming collisions."""
    values = ", ".join(value for value, _label in choices)
    return serializers.CharField(read_only=True, help_text=f"One of: {values}.", **kwargs)


class FileRequestSerializer(StrictSerializer):
    """REQ-1 to REQ-3: what ``requests.services.filing.file_request`` takes, for the
    person's own request. Evidence files and filing as an authorized agent (REQ-9, a
    proof of authority upload) stay on the pages in this version of the API."""

    kind = serializers.ChoiceField(choices=RequestKind.choices)
    jurisdiction = serializers.ChoiceField(
        choices=Jurisdiction.choices, required=False, help_text="Defaults to the deployment's jurisdiction."
    )
    code = serializers.RegexField(
        r"^\d{6}$",
        help_text="The six-digit code sent by POST /api/v1/requests/code/ to the person's own number (REQ-3).",
        error_messages={"invalid": _("The code is six digits.")},
    )
    details = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")
    deletion_grounds = serializers.ListField(
        child=serializers.ChoiceField(choices=DeletionGround.choices),
        required=False,
        allow_empty=True,
        max_length=len(DeletionGround.values),
        help_text="Deletion kinds: at least one ground.",
    )
    field = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="Correction or supplement: the profile field (or, with member_id, the roster field) that is wrong. "
        "Withdrawal of a consent: the purpose code.",
    )
    member_id = serializers.IntegerField(
        min_value=1,
        max_value=2**63 - 1,
        required=False,
        allow_null=True,
        help_text="Correction or supplement of organization data: the person's own roster entry.",
    )
    proposed_value = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    automated_decision = serializers.IntegerField(
        min_value=1,
        max_value=2**63 - 1,
        required=False,
        allow_null=True,
        help_text="Explanation of an automated decision: the decision's id (see the person's decisions page).",
    )

    def validate(self, attrs):
        attrs.setdefault("jurisdiction", default_jurisdiction())
        return attrs


class RequestSummarySerializer(serializers.ModelSerializer):
    """REQ-4, REQ-9: one of the person's requests."""

    role = serializers.SerializerMethodField(
        help_text="subject: about the caller; agent: filed by the caller for someone else."
    )
    is_overdue = serializers.BooleanField(read_only=True)
    kind = choice_text(RequestKind.choices)
    status = choice_text(RequestStatus.choices)

    class Meta:
        model = DataSubjectRequest
        fields = [
            "reference",
            "kind",
            "jurisdiction",
            "status",
            "received_at",
            "due_on",
            "closed_at",
            "is_overdue",
            "role",
        ]
        read_only_fields = fields

    def get_role(self, obj) -> str:
        user = self.context["request"].user
        return "subject" if obj.subject_id == user.pk else "agent"


class PublicEventSerializer(serializers.ModelSerializer):
    """REQ-6: what the requester reads on the timeline (never handlers' notes)."""

    kind = choice_text(EventKind.choices)
    to_status = choice_text(RequestStatus.choices)
    # What the portal wrote is rendered in the reader's language.
    text = serializers.CharField(source="display_text", read_only=True)

    class Meta:
        model = RequestEvent
        fields = ["at", "kind", "to_status", "text"]
        read_only_fields = fields


class ArchiveStateSerializer(serializers.Serializer):
    """REQ-7: the export archive and how far it is built."""

    id = serializers.IntegerField()
    status = choice_text(ExportStatus.choices)
    sections_done = serializers.IntegerField()
    sections_total = serializers.IntegerField()
    percent = serializers.IntegerField()
    ready = serializers.BooleanField()
    expires_at = serializers.DateTimeField(allow_null=True)
    size = serializers.IntegerField(help_text="Bytes (0 until ready).")
    download_url = serializers.CharField(allow_blank=True, help_text="Only the person downloads it; empty until ready.")
    waiting_since = serializers.DateTimeField(
        allow_null=True, help_text="Queued or building with no worker on it: since when it waits for one."
    )


class RequestDetailSerializer(RequestSummarySerializer):
    """REQ-4, REQ-6, REQ-7: one request with its public timeline and export archives."""

    events = serializers.SerializerMethodField()
    exports = serializers.SerializerMethodField()
    can_withdraw = serializers.BooleanField(source="is_open", read_only=True)
    # Blank until a request is refused: the schema must allow "" too.
    refusal_ground = serializers.ChoiceField(choices=RefusalGround.choices, allow_blank=True, read_only=True)
    outcome = serializers.CharField(source="answer", read_only=True, help_text="The answer, in the reader's language.")

    class Meta(RequestSummarySerializer.Meta):
        fields = [
            *RequestSummarySerializer.Meta.fields,
            "original_due_on",
            "details",
            "deletion_grounds",
            "field",
            "proposed_value",
            "outcome",
            "refusal_ground",
            "can_withdraw",
            "events",
            "exports",
        ]
        read_only_fields = fields

    @extend_schema_field(PublicEventSerializer(many=True))
    def get_events(self, obj) -> list[dict]:
        return PublicEventSerializer(self.context["events"], many=True).data

    @extend_schema_field(ArchiveStateSerializer(many=True))
    def get_exports(self, obj) -> list[dict]:
        return ArchiveStateSerializer(self.context["exports"], many=True).data


class OrgRequestSummarySerializer(serializers.ModelSerializer):
    """REQ-4, REQ-5: a row of the organization's queue."""

    is_overdue = serializers.BooleanField(read_only=True)
    kind = choice_text(RequestKind.choices)
    status = choice_text(RequestStatus.choices)
    subject_name = serializers.CharField(source="subject.name", allow_null=True, default=None, read_only=True)
    member_id = serializers.IntegerField(allow_null=True, read_only=True)
    member_name = serializers.CharField(source="member.name", allow_null=True, default=None, read_only=True)
    assignee_id = serializers.IntegerField(allow_null=True, read_only=True)
    assignee_name = serializers.CharField(source="assignee.name", allow_null=True, default=None, read_only=True)

    class Meta:
        model = DataSubjectRequest
        fields = [
            "reference",
            "kind",
            "status",
            "field",
            "received_at",
            "due_on",
            "closed_at",
            "is_overdue",
            "subject_name",
            "member_id",
            "member_name",
            "assignee_id",
            "assignee_name",
        ]
        read_only_fields = fields


class OrgEventSerializer(serializers.ModelSerializer):
    """REQ-6: the full timeline for handlers, internal notes included."""

    actor_name = serializers.CharField(source="actor.name", allow_null=True, default=None, read_only=True)
    kind = choice_text(EventKind.choices)
    from_status = choice_text(RequestStatus.choices)
    to_status = choice_text(RequestStatus.choices)
    text = serializers.CharField(source="display_text", read_only=True)

    class Meta:
        model = RequestEvent
        fields = ["id", "at", "kind", "actor_name", "from_status", "to_status", "text", "internal"]
        read_only_fields = fields


class OrgRequestDetailSerializer(OrgRequestSummarySerializer):
    """REQ-5, REQ-6: one request of the organization, as its handlers see it."""

    jurisdiction = serializers.ChoiceField(choices=Jurisdiction.choices, read_only=True)
    refusal_ground = serializers.ChoiceField(choices=RefusalGround.choices, allow_blank=True, read_only=True)
    has_evidence = serializers.SerializerMethodField()
    events = serializers.SerializerMethodField()
    outcome = serializers.CharField(source="answer", read_only=True, help_text="The answer, in the reader's language.")

    class Meta(OrgRequestSummarySerializer.Meta):
        fields = [
            *OrgRequestSummarySerializer.Meta.fields,
            "jurisdiction",
            "original_due_on",
            "details",
            "deletion_grounds",
            "proposed_value",
            "has_evidence",
            "outcome",
            "refusal_ground",
            "events",
        ]
        read_only_fields = fields

    def get_has_evidence(self, obj) -> bool:
        return bool(obj.evidence)

    @extend_schema_field(OrgEventSerializer(many=True))
    def get_events(self, obj) -> list[dict]:
        return OrgEventSerializer(self.context["events"], many=True).data


class NoteSerializer(StrictSerializer):
    """REQ-6: a note for the handlers, or a message the person reads."""

    text = serializers.CharField(max_length=NOTE_MAX_LENGTH)
    to_person = serializers.BooleanField(default=False)


class CodeSentSerializer(serializers.Serializer):
    sent_to = serializers.CharField(help_text="The person's number, masked.")
    expires_in_seconds = serializers.IntegerField()
