"""Django admin for operators. Only drafts can be changed here (and each change is logged
with its author); signed versions, their commitments, escalation rules and signatures are
read-only — the services and a PostgreSQL trigger refuse too. A submitted version is
read-only as well, because editing it must withdraw the signatures, which the app does.
Sign-off itself only happens in the app or the API. The change log and signatures are
append-only and clocks move only through the product: all three are read-only here, and
nothing that has a change log (every version) can be deleted."""

from django import forms
from django.contrib import admin

from apps.sla import services
from apps.sla.models import (
    BusinessCalendar,
    Commitment,
    EscalationRule,
    Signature,
    SlaClock,
    SlaContract,
    SlaVersion,
    SlaVersionChange,
    VersionStatus,
)


def _is_signed(version) -> bool:
    """Not a plain draft: signed, or submitted and waiting for signatures."""
    return version is not None and version.status != VersionStatus.DRAFT


class SignedVersionReadOnly:
    """Refuse change and delete on anything that belongs to a signed version."""

    def version_of(self, obj):
        return getattr(obj, "version", None)

    def has_change_permission(self, request, obj=None):
        if obj is not None and _is_signed(self.version_of(obj)):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and _is_signed(self.version_of(obj)):
            return False
        return super().has_delete_permission(request, obj)


class DraftVersionOnlyForm(forms.ModelForm):
    """Adding a commitment or a rule to a signed version is refused here, with a message,
    before PostgreSQL's trigger would refuse it as a server error."""

    def clean_version(self):
        version = self.cleaned_data.get("version")
        if _is_signed(version):
            raise forms.ValidationError(
                "This version is signed or awaiting signatures, so it cannot change: "
                "make a new version from it instead."
            )
        return version


class CommitmentInline(SignedVersionReadOnly, admin.TabularInline):
    model = Commitment
    extra = 0

    def version_of(self, obj):
        return obj  # the inline receives the parent version

    def has_add_permission(self, request, obj=None):
        return not _is_signed(obj) and super().has_add_permission(request, obj)


class EscalationRuleInline(CommitmentInline):
    model = EscalationRule


class ReadOnlyAdmin(admin.ModelAdmin):
    """Every field shown, nothing added, changed or deleted."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SignatureInline(admin.TabularInline):
    """Signatures are made by the leaders in the app or the API, never here."""

    model = Signature
    extra = 0
    can_delete = False
    readonly_fields = [f.name for f in Signature._meta.fields]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SlaVersion)
class SlaVersionAdmin(SignedVersionReadOnly, admin.ModelAdmin):
    list_display = ["contract", "number", "status", "effective_at", "superseded_at"]
    list_filter = ["status"]
    inlines = [CommitmentInline, EscalationRuleInline, SignatureInline]
    # The sign-off fields move only through the services (submit, sign, activate).
    readonly_fields = [
        "status",
        "calendar_snapshot",
        "content_hash",
        "submitted_at",
        "activated_at",
        "superseded_at",
        "based_on",
        "signing_round",
        "seal",
        "seal_key_id",
    ]

    def version_of(self, obj):
        return obj

    def has_delete_permission(self, request, obj=None):
        # Every version has an append-only change log that names it.
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and form.changed_data:
            services.version_change_record(
                version=obj,
                actor=request.user,
                summary="Changed in the admin: " + ", ".join(form.changed_data),
                detail={"fields": form.changed_data},
            )

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        changed = [str(o) for o in formset.new_objects + [o for o, _ in formset.changed_objects]]
        removed = [str(o) for o in formset.deleted_objects]
        if changed or removed:
            services.version_change_record(
                version=form.instance,
                actor=request.user,
                summary=f"{formset.model._meta.verbose_name_plural.capitalize()} changed in the admin",
                detail={"changed": changed, "removed": removed},
            )


@admin.register(Commitment)
class CommitmentAdmin(SignedVersionReadOnly, admin.ModelAdmin):
    form = DraftVersionOnlyForm
    list_display = ["version", "position", "owner_team", "metric", "target", "yellow_threshold"]
    list_filter = ["metric", "owner_team"]


@admin.register(EscalationRule)
class EscalationRuleAdmin(SignedVersionReadOnly, admin.ModelAdmin):
    form = DraftVersionOnlyForm
    list_display = ["version", "commitment", "threshold", "periods", "period_kind", "notify_role"]


@admin.register(Signature)
class SignatureAdmin(ReadOnlyAdmin):
    list_display = ["sequence", "version", "round", "signer", "team", "signed_at", "channel"]


@admin.register(SlaContract)
class SlaContractAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "timezone", "holiday_country", "holiday_subdivision", "is_default"]


@admin.register(SlaVersionChange)
class SlaVersionChangeAdmin(ReadOnlyAdmin):
    list_display = ["changed_at", "version", "author", "action", "summary", "channel"]


@admin.register(SlaClock)
class SlaClockAdmin(ReadOnlyAdmin):
    """Clocks are evidence of compliance: due_at is computed once at MQL time, and met or
    breached is decided by touches, dispositions and the sweep — never by hand."""

    list_display = ["lead", "kind", "started_at", "due_at", "met_at", "state"]
    list_filter = ["kind", "state"]
