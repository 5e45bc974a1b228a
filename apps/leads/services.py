"""Writes on leads and activities: the facts (leads, activities, owners), routing, imports.

These services store facts and say what they touched; they call nothing above them.
apps/handoff/pipeline.py runs what follows (qualification, stage change, routing,
clocks) for every channel, in the same transaction, so a caller never sees stored
facts that the rules have not yet seen. Stage fields are written by
apps/leads/stages.py only.

Storing is set-based: a batch of up to 1,000 items costs a fixed number of statements
(parse in Python, one lookup per kind of reference, one insert, one update).
"""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import JSONField, Q
from django.utils import timezone

from apps.accounts.audit import audit_record
from apps.accounts.exceptions import Conflict, DomainError
from apps.accounts.input_bounds import printable
from apps.accounts.models import User
from apps.leads import csv_rows
from apps.leads import field_mapping as field_mapping_mod
from apps.leads.crm_payloads import SOURCES as CRM_SOURCES
from apps.leads.crm_payloads import PayloadError
from apps.leads.field_mapping import DEFAULT_MAPPINGS, apply_mapping, is_valid_target
from apps.leads.geography import region_for
from apps.leads.models import (
    SALES_TOUCH_KINDS,
    Activity,
    ActivityFamily,
    Assignment,
    FieldMapping,
    ImportJob,
    Lead,
    WebhookEndpoint,
    activity_family,
)
from apps.leads.payloads import (
    QUALIFYING_FIELDS,
    ActivityItem,
    LeadItem,
    parse_activity_item,
    parse_lead_item,
)
from apps.leads.stages import StageMove, stages_move
from config.celery_app import app as celery_app

logger = logging.getLogger(__name__)

CHANNELS = frozenset({"api", "webhook", "csv", "ui", "system"})
# Queued by name after an import is confirmed (apps/leads/tasks.py registers it under it).
IMPORT_TASK = "apps.leads.tasks.lead_import_run_task"


@dataclass(frozen=True)
class Touched:
    """What a write stored, for the hand-off pipeline to act on."""

    # Leads whose stored facts changed (created or updated leads; leads with new activities).
    lead_ids: tuple[int, ...] = ()
    # Lead id -> the earliest occurred_at of the activities stored for it: a fact older
    # than a lead's MQL moment may re-date that MQL.
    earliest_new_activity: Mapping[int, datetime] = field(default_factory=dict)
    # Leads with a new fact an SLA clock reads (a sales touch, a disposition).
    clocks_touched: tuple[int, ...] = ()


@dataclass(frozen=True)
class BulkResult:
    """What a bulk write did: counts per outcome, rejected items by index, the leads it touched."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    # [{"index": i, "errors": {field: [message]}}], in item order
    errors: list[dict[str, Any]] = field(default_factory=list)
    # Leads whose stored facts changed (created or updated leads; leads with new activities).
    lead_ids: list[int] = field(default_factory=list)
    touched: Touched = field(default_factory=Touched)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "errors": self.errors,
            "lead_ids": self.lead_ids,
        }


def _channel_clean(channel: str) -> str:
    if channel not in CHANNELS:
        raise DomainError(f"Unknown channel “{channel}”.", field="channel")
    return channel


def person_of(actor) -> User | None:
    """The user behind an actor; None for the system and for organization API keys."""
    return actor if isinstance(actor, User) and actor.pk else None


def _lock_external_ids(external_ids: Iterable[str]) -> None:
    """Serialize concurrent upserts of the same leads, in one query, for this transaction.

    Row locks cannot protect a lead that does not exist yet, so two batches creating
    the same external_id would collide on the unique index. Transaction-level
    advisory locks on (schema, external_id) make the second batch wait and then see
    the first one's lead as existing. Sorted so that overlapping batches never deadlock.
    """
    keys = sorted(set(external_ids))
    if not keys:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(k) FROM ("
            "  SELECT DISTINCT hashtextextended(%s || x, 0) AS k FROM unnest(%s::text[]) AS x"
            ") AS keys ORDER BY k",
            [f"{connection.schema_name}:lead:", keys],
        )


def _row_value(value: Any) -> Any:
    """A column value as JSON for rows_update: times at full precision (DjangoJSONEncoder
    would cut microseconds), decimals and UUIDs as their text."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a column value rows_update can send")


def rows_update(model, objs: Sequence, field_names: Sequence[str]) -> None:
    """UPDATE many rows, each with its own values, in one statement (UPDATE … FROM a JSON document).

    Django's bulk_update builds a CASE WHEN per field and row: for 1,000 leads that
    costs seconds of Python. The rows travel as one JSON document (jsonb_to_recordset),
    as the other batch writes do: arrays of values are quoted element by element in
    Python (tens of milliseconds for 1,000 leads' timestamps); one string is not. Each
    value is read as text and cast to its column's type (as the arrays were); a JSON
    field keeps its DjangoJSONEncoder text, cast to jsonb.
    """
    if not objs:
        return
    fields = [model._meta.get_field(name) for name in field_names]
    names = [f"c{i}" for i in range(len(fields))]
    rows = []
    for obj in objs:
        row = {"pk": obj.pk}
        for name, f in zip(names, fields, strict=True):
            value = getattr(obj, f.attname)
            row[name] = (
                json.dumps(value, cls=DjangoJSONEncoder) if isinstance(f, JSONField) else value
            )
        rows.append(row)
    quote = connection.ops.quote_name
    casts = ["jsonb" if isinstance(f, JSONField) else f.db_type(connection) for f in fields]
    # Only identifiers and types from the model's own metadata are interpolated; every
    # value is in the one parameter.
    sql = (
        f"UPDATE {quote(model._meta.db_table)} AS t SET "  # noqa: S608
        + ", ".join(
            f"{quote(f.column)} = v.{name}::{cast}"
            for f, name, cast in zip(fields, names, casts, strict=True)
        )
        + " FROM jsonb_to_recordset(%s::jsonb) AS v(pk "
        + model._meta.pk.db_type(connection)
        + "".join(f", {name} text" for name in names)
        + f") WHERE t.{quote(model._meta.pk.column)} = v.pk"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [json.dumps(rows, default=_row_value)])


# --- leads ----------------------------------------------------------------------------


def _users_by_email(emails: set[str]) -> dict[str, User]:
    if not emails:
        return {}
    return {u.email.lower(): u for u in User.objects.filter(email__in=emails)}


def _lead_apply(
    lead: Lead, item: LeadItem, *, owners: Mapping[str, User], now: datetime
) -> tuple[set[str], tuple[str, datetime] | None, bool]:
    """Apply an item's fields to a lead object: (changed fields, stage move or None, owner changed).

    The stage move is only decided here (stages_move writes it).
    """
    changed: set[str] = set()
    for name, value in item.values.items():
        if getattr(lead, name) != value:
            setattr(lead, name, value)
            changed.add(name)
    if item.properties:
        merged = {**(lead.properties or {}), **item.properties}
        if merged != lead.properties:
            lead.properties = merged
            changed.add("properties")
    if lead.country and not lead.region and region_for(lead.country):
        lead.region = region_for(lead.country)
        changed.add("region")
    owner_changed = False
    if item.has_owner:
        owner = owners.get(item.owner_email) if item.owner_email else None
        if (owner.pk if owner else None) != lead.owner_id:
            lead.owner = owner
            lead.assigned_at = now if owner else None
            changed |= {"owner", "assigned_at"}
            owner_changed = True
    move = None
    if item.stage and item.stage != lead.stage:
        at = item.stage_changed_at or now
        # An older stage move arriving after a newer one (out-of-order sync) must not
        # send the lead back: the later fact already describes where it stands.
        if lead.pk is None or at >= lead.stage_changed_at:
            move = (item.stage, at)
    return changed, move, owner_changed


@transaction.atomic
def leads_store(
    *, items: Sequence[Any], channel: str, actor, now: datetime | None = None
) -> BulkResult:
    """Create or update leads by external_id (partial updates), reporting every rejected item by index.

    Stores facts only: the hand-off pipeline (apps/handoff) qualifies what it touched.
    """
    _channel_clean(channel)
    now = now or timezone.now()
    errors: list[dict[str, Any]] = []
    valid: list[tuple[int, LeadItem]] = []
    first_index: dict[str, int] = {}
    for index, raw in enumerate(items):
        item, item_errors = parse_lead_item(raw, now=now)
        if item is not None and item.external_id in first_index:
            item_errors = {
                "external_id": [
                    f"Appears more than once in this batch (first at index {first_index[item.external_id]})."
                ]
            }
        if item_errors:
            errors.append({"index": index, "errors": item_errors})
            continue
        assert item is not None  # noqa: S101 - no errors means an item
        first_index[item.external_id] = index
        valid.append((index, item))

    owners = _users_by_email({i.owner_email for _, i in valid if i.owner_email})
    accepted: list[tuple[int, LeadItem]] = []
    for index, item in valid:
        owner = owners.get(item.owner_email) if item.owner_email else None
        if item.owner_email and (owner is None or not owner.is_active):
            problem = "is deactivated" if owner else "is not a user of this organization"
            errors.append({"index": index, "errors": {"owner": [f"{item.owner_email} {problem}."]}})
        else:
            accepted.append((index, item))

    _lock_external_ids(item.external_id for _, item in accepted)
    # Row locks in primary-key order, the order the MQL engine locks them in too.
    existing = {
        lead.external_id: lead
        for lead in Lead.objects.select_for_update()
        .filter(external_id__in=[item.external_id for _, item in accepted])
        .order_by("pk")
    }
    person = person_of(actor)
    new_leads: list[Lead] = []
    changed_leads: list[Lead] = []
    update_fields: set[str] = set()
    moves: list[tuple[Lead, str, datetime]] = []
    owner_changes: list[Lead] = []
    unchanged = 0
    for _index, item in accepted:
        lead = existing.get(item.external_id)
        if lead is None:
            created_at = item.created_at or now
            lead = Lead(
                external_id=item.external_id,
                created_at=created_at,
                stage_changed_at=created_at,
                updated_at=now,
            )
            _changed, move, owner_changed = _lead_apply(lead, item, owners=owners, now=now)
            new_leads.append(lead)
        else:
            changed, move, owner_changed = _lead_apply(lead, item, owners=owners, now=now)
            if not changed and move is None:
                unchanged += 1
                continue
            if changed & QUALIFYING_FIELDS:
                lead.fields_changed_at = item.changed_at or now
                changed.add("fields_changed_at")
            lead.updated_at = now
            update_fields |= changed
            changed_leads.append(lead)
        if move:
            moves.append((lead, *move))
        if owner_changed and lead.owner_id:
            owner_changes.append(lead)

    Lead.objects.bulk_create(new_leads)
    rows_update(Lead, changed_leads, sorted(update_fields | {"updated_at"}))
    if moves:
        stages_move(
            leads={lead.pk: lead for lead, _, _ in moves},
            moves=[
                StageMove(
                    lead_id=lead.pk,
                    to_stage=to_stage,
                    occurred_at=at,
                    channel=channel,
                    actor_id=person.pk if person else None,
                )
                for lead, to_stage, at in moves
            ],
            now=now,
        )
    if owner_changes:
        Assignment.objects.bulk_create(
            Assignment(
                lead=lead,
                owner_id=lead.owner_id,
                assigned_at=now,
                assigned_by=person,
                reason=f"Owner set through {channel}",
            )
            for lead in owner_changes
        )
    lead_ids = [lead.pk for lead in new_leads] + [lead.pk for lead in changed_leads]
    errors.sort(key=lambda e: e["index"])
    return BulkResult(
        created=len(new_leads),
        updated=len(changed_leads),
        unchanged=unchanged,
        rejected=len(errors),
        errors=errors,
        lead_ids=lead_ids,
        touched=Touched(lead_ids=tuple(lead_ids)),
    )


# --- activities -------------------------------------------------------------------------

# One JSON document of rows: arrays of JSON texts would be escaped element by element in
# Python (psycopg quotes array items with a regex); one string is escaped by libpq.
_ACTIVITY_INSERT = """
INSERT INTO {table} (lead_id, kind, family, occurred_at, external_id, properties, actor_id, note, recorded_at)
SELECT v.lead_id, v.kind, v.family, v.occurred_at, v.external_id, v.properties, v.actor_id,
       v.note, %s
FROM jsonb_to_recordset(%s::jsonb) AS v(
    lead_id bigint, kind varchar, family varchar, occurred_at timestamptz, external_id varchar,
    properties jsonb, actor_id bigint, note text)
ON CONFLICT (external_id) DO NOTHING
RETURNING lead_id, family, occurred_at
"""


@transaction.atomic
def activities_store(
    *, items: Sequence[Any], channel: str, actor, now: datetime | None = None
) -> BulkResult:
    """Append activities by external_id: a stored one is never changed (idempotent), order does not matter.

    Stores facts only: the hand-off pipeline (apps/handoff) qualifies and syncs what it touched.
    """
    _channel_clean(channel)
    now = now or timezone.now()
    errors: list[dict[str, Any]] = []
    parsed: list[tuple[int, ActivityItem, str]] = []
    seen: set[str] = set()
    duplicates = 0
    for index, raw in enumerate(items):
        item, item_errors = parse_activity_item(raw, now=now, external_id_required=channel != "ui")
        if item_errors:
            errors.append({"index": index, "errors": item_errors})
            continue
        assert item is not None  # noqa: S101 - no errors means an item
        external_id = item.external_id or f"ui-{uuid.uuid4().hex}"
        if external_id in seen:
            duplicates += 1  # the same fact twice in one batch: stored once
            continue
        seen.add(external_id)
        parsed.append((index, item, external_id))

    lead_ids = dict(
        Lead.objects.filter(external_id__in={item.lead for _, item, _ in parsed}).values_list(
            "external_id", "pk"
        )
    )
    actors = _users_by_email({item.actor_email for _, item, _ in parsed if item.actor_email})
    rows: list[tuple[ActivityItem, str, int, int | None]] = []
    for index, item, external_id in parsed:
        item_errors: dict[str, list[str]] = {}
        if item.lead not in lead_ids:
            item_errors["lead"] = [
                f"Unknown lead “{item.lead}”: upsert the lead first, then resend (resending is safe)."
            ]
        user = actors.get(item.actor_email) if item.actor_email else None
        if item.actor_email and user is None:
            item_errors["actor"] = [f"{item.actor_email} is not a user of this organization."]
        if item_errors:
            errors.append({"index": index, "errors": item_errors})
        else:
            rows.append((item, external_id, lead_ids[item.lead], user.pk if user else None))

    inserted: list[tuple[int, str, datetime]] = []
    if rows:
        with connection.cursor() as cursor:
            document = [
                {
                    "lead_id": lead_id,
                    "kind": item.kind,
                    "family": activity_family(item.kind).value,
                    "occurred_at": item.occurred_at.isoformat(),
                    "external_id": external_id,
                    "properties": item.properties,
                    "actor_id": actor_id,
                    "note": item.note,
                }
                for item, external_id, lead_id, actor_id in rows
            ]
            cursor.execute(
                _ACTIVITY_INSERT.format(table=connection.ops.quote_name(Activity._meta.db_table)),
                [now, json.dumps(document, default=str)],
            )
            inserted = cursor.fetchall()
    touched = sorted({lead_id for lead_id, _, _ in inserted})
    sales_touched = sorted(
        {lead_id for lead_id, family, _ in inserted if family == ActivityFamily.SALES_TOUCH}
    )
    earliest: dict[int, datetime] = {}
    for lead_id, _, occurred_at in inserted:
        if lead_id not in earliest or occurred_at < earliest[lead_id]:
            earliest[lead_id] = occurred_at
    errors.sort(key=lambda e: e["index"])
    return BulkResult(
        created=len(inserted),
        updated=0,  # activities are immutable facts: a known external_id is left as it is
        unchanged=len(rows) - len(inserted) + duplicates,
        rejected=len(errors),
        errors=errors,
        lead_ids=touched,
        touched=Touched(
            lead_ids=tuple(touched),
            earliest_new_activity=earliest,
            clocks_touched=tuple(sales_touched),
        ),
    )


def touch_item(
    *,
    lead: Lead,
    kind: str,
    actor,
    note: str = "",
    occurred_at: datetime | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The activity item of one sales touch logged by a person from the UI, checked.

    The rep queue's one-click buttons: the hand-off pipeline stores it like any other
    activity (apps.handoff.channels.touch_log).
    """
    if kind not in SALES_TOUCH_KINDS:
        raise DomainError(
            f"“{kind}” is not a sales touch; one of {', '.join(sorted(SALES_TOUCH_KINDS))}.",
            field="kind",
        )
    if person_of(actor) is None:
        raise DomainError("A touch is logged by a person of the organization.", field="actor")
    now = now or timezone.now()
    occurred_at = occurred_at or now
    if timezone.is_naive(occurred_at):
        raise DomainError("Give the time with its timezone.", field="occurred_at")
    if occurred_at > now:
        raise DomainError("A touch cannot be logged in the future.", field="occurred_at")
    return {
        "external_id": f"ui-{uuid.uuid4().hex}",
        "lead": lead.external_id,
        "kind": kind,
        "occurred_at": occurred_at,
        "actor": actor.email,
        "note": note,
    }


# --- field mappings and webhooks --------------------------------------------------------


def field_mapping_for(source: str) -> dict[str, str]:
    """The organization's mapping for a source, or the built-in default until it saves one."""
    saved = FieldMapping.objects.filter(source=source).values_list("mapping", flat=True).first()
    if saved is not None:
        return dict(saved)
    return dict(DEFAULT_MAPPINGS.get(source, {}))


@transaction.atomic
def field_mapping_save(
    *, source: str, mapping: Mapping[str, str], actor, merge: bool = False
) -> FieldMapping:
    """Save a source's mapping (merge=True keeps the choices for names not in `mapping`)."""
    if source not in FieldMapping.Source.values:
        raise DomainError(f"Unknown source “{source}”.", field="source")
    cleaned: dict[str, str] = {}
    for name, target in mapping.items():
        name, target = str(name).strip(), str(target or "").strip()
        if not name:
            continue
        if not is_valid_target(target):
            raise DomainError(f"“{target}” is not a lead field (for “{name}”).", field="mapping")
        cleaned[name] = target
    record, _ = FieldMapping.objects.select_for_update().get_or_create(
        source=source, defaults={"mapping": DEFAULT_MAPPINGS.get(source, {})}
    )
    record.mapping = {**record.mapping, **cleaned} if merge else cleaned
    record.updated_by = person_of(actor)
    record.save()
    audit_record(actor=person_of(actor), action="field_mapping.changed", target=f"{source} field mapping", mapping=cleaned)  # fmt: skip
    return record


def webhook_endpoint_get() -> WebhookEndpoint:
    """The organization's webhook endpoint, created with fresh secrets on first use."""
    endpoint = WebhookEndpoint.objects.order_by("pk").first()
    if endpoint is None:
        endpoint = WebhookEndpoint.objects.create(
            url_token=secrets.token_urlsafe(24), signing_secret=secrets.token_hex(32)
        )
    return endpoint


@transaction.atomic
def webhook_endpoint_rotate(*, actor, is_active: bool | None = None) -> WebhookEndpoint:
    """New URL token and signing secret (the old ones stop working at once), or switch it on/off."""
    endpoint = webhook_endpoint_get()
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if is_active is None:
        endpoint.url_token = secrets.token_urlsafe(24)
        endpoint.signing_secret = secrets.token_hex(32)
        endpoint.rotated_at = timezone.now()
        action = "webhook.rotated"
    else:
        endpoint.is_active = is_active
        action = "webhook.enabled" if is_active else "webhook.disabled"
    endpoint.save()
    audit_record(actor=person_of(actor), action=action, target="lead webhook")
    return endpoint


@dataclass(frozen=True)
class WebhookResult:
    result: BulkResult
    ignored: int
    unmapped: list[str]


@dataclass(frozen=True)
class WebhookItems:
    """One CRM webhook call read through the organization's field mapping."""

    items: list[dict[str, Any]]
    ignored: int
    unmapped: list[str]


def webhook_items(*, source: str, payload: Any) -> WebhookItems:
    """The lead items of one CRM webhook call, mapped; DomainError names what is wrong."""
    reader = CRM_SOURCES.get(source)
    if reader is None:
        raise DomainError(
            f"Unknown source “{source}”; one of {', '.join(CRM_SOURCES)}.", field="source"
        )
    try:
        records, ignored = reader(payload)
    except PayloadError as exc:
        raise DomainError(str(exc), field="body") from exc
    if len(records) > settings.API_BULK_MAX_ITEMS:
        raise DomainError(f"At most {settings.API_BULK_MAX_ITEMS} records per call.", field="body")
    mapping = field_mapping_for(source)
    items, unmapped = [], set()
    for record in records:
        item, names = apply_mapping(record, mapping)
        items.append(item)
        unmapped.update(names)
    return WebhookItems(items=items, ignored=ignored, unmapped=sorted(unmapped))


def webhook_received(*, now: datetime) -> None:
    """Stamp the endpoint's last call, at most once a minute: a row write on every call
    would make concurrent webhook calls queue behind each other's transactions."""
    WebhookEndpoint.objects.filter(
        Q(last_received_at__isnull=True) | Q(last_received_at__lt=now - timedelta(minutes=1))
    ).update(last_received_at=now)


# --- CSV import -------------------------------------------------------------------------

IMPORT_MAX_BYTES = 20 * 1024 * 1024
IMPORT_CHUNK_ROWS = 500
# The report keeps this many rejected rows in full; the counts stay exact beyond it.
IMPORT_MAX_STORED_ERRORS = 10_000


def _file_read(content: bytes, encoding: str) -> tuple[str, list[str], int]:
    text = csv_rows.decode(content, encoding)
    delimiter = csv_rows.detect_delimiter(text)
    headers, rows = csv_rows.read_rows(text, delimiter)
    return delimiter, headers, sum(1 for _ in rows)


@transaction.atomic
def import_job_create(*, filename: str, content: bytes, actor) -> ImportJob:
    """Store an uploaded CSV, read its header and guess the column mapping (saved choices first)."""
    if not content:
        raise DomainError("The file is empty.", field="file")
    if len(content) > IMPORT_MAX_BYTES:
        raise DomainError(
            f"The file is larger than {IMPORT_MAX_BYTES // (1024 * 1024)} MB; split it.",
            field="file",
        )
    encoding = csv_rows.detect_encoding(content)
    delimiter, headers, total = _file_read(content, encoding)
    if not headers:
        raise DomainError(
            "No header row found: the first line must name the columns.", field="file"
        )
    mapping = field_mapping_mod.guess_mapping(headers, saved=field_mapping_for("csv"))
    return ImportJob.objects.create(
        filename=(filename or "upload.csv")[:255],
        content=content,
        size=len(content),
        encoding=encoding,
        delimiter=delimiter,
        headers=headers,
        total_rows=total,
        mapping=mapping,
        created_by=person_of(actor),
    )


@transaction.atomic
def import_job_start(
    *,
    job: ImportJob,
    mapping: Mapping[str, str],
    encoding: str,
    date_order: str,
    time_zone: str,
    actor,
) -> ImportJob:
    """Confirm the mapping (remembered for the next file) and queue the import in the background."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status != ImportJob.Status.UPLOADED:
        raise Conflict("This import has already been started.", field="status")
    if encoding not in csv_rows.ENCODINGS:
        raise DomainError(f"Unknown encoding “{encoding}”.", field="encoding")
    if date_order not in ImportJob.DateOrder.values:
        raise DomainError("Choose how dates are written in the file.", field="date_order")
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DomainError(f"Unknown time zone “{time_zone}”.", field="time_zone") from exc
    if encoding != job.encoding:
        job.delimiter, job.headers, job.total_rows = _file_read(bytes(job.content), encoding)
        job.encoding = encoding
    cleaned: dict[str, str] = {}
    used: dict[str, str] = {}
    for header in job.headers:
        target = str(mapping.get(header, "") or "")
        if not field_mapping_mod.is_valid_target(target):
            raise DomainError(
                f"“{target}” is not a lead field (column “{header}”).", field="mapping"
            )
        if target and not target.startswith(field_mapping_mod.PROPERTY_PREFIX):
            if target in used:
                raise DomainError(
                    f"Columns “{used[target]}” and “{header}” are both mapped to "
                    f"{field_mapping_mod.LEAD_TARGETS[target]}; keep one.",
                    field="mapping",
                )
            used[target] = header
        cleaned[header] = target
    if "external_id" not in used:
        raise DomainError(
            "Map one column to External ID (the CRM's record id): it is how a row finds its lead again.",
            field="mapping",
        )
    field_mapping_save(source="csv", mapping=cleaned, actor=actor, merge=True)
    job.mapping = cleaned
    job.date_order = date_order
    job.time_zone = time_zone
    job.status = ImportJob.Status.QUEUED
    job.queued_at = timezone.now()
    job.save()
    audit_record(actor=person_of(actor), action="import.started", target=job.filename, rows=job.total_rows)  # fmt: skip
    _import_enqueue(job.pk)
    return job


# A queued import no worker has picked up after this long is sent again (broker outage).
IMPORT_REQUEUE_AFTER = timedelta(minutes=2)


def _import_enqueue(job_id: int) -> None:
    """Send the import to the workers once the job is committed. Never raises: with the
    broker down the job stays queued and imports_requeue sends it again later."""

    def send() -> None:
        try:
            # Sent from inside the tenant's context, so the worker runs it in this schema; by
            # name, as the task module imports this one (tasks call services, not back).
            # retry=False: an outage costs one refused connection, not a hanging request.
            celery_app.send_task(IMPORT_TASK, args=[job_id], retry=False)
        except Exception:
            logger.warning("could not enqueue CSV import %s; it will be re-sent", job_id)

    transaction.on_commit(send)


def imports_requeue(*, now: datetime) -> int:
    """Send again the imports queued longer than IMPORT_REQUEUE_AFTER with no worker on them
    (their message was lost to a broker outage); running them twice is harmless."""
    stalled = list(
        ImportJob.objects.filter(
            status=ImportJob.Status.QUEUED, queued_at__lt=now - IMPORT_REQUEUE_AFTER
        ).values_list("pk", flat=True)
    )
    if stalled:
        ImportJob.objects.filter(pk__in=stalled).update(queued_at=now)
        for job_id in stalled:
            _import_enqueue(job_id)
    return len(stalled)


def import_chunks(*, job: ImportJob) -> Iterable[list[csv_rows.CsvRow]]:
    """The job's rows, IMPORT_CHUNK_ROWS at a time (each chunk is stored in its own transaction)."""
    text = csv_rows.decode(bytes(job.content), job.encoding)
    _headers, rows = csv_rows.read_rows(text, job.delimiter)
    # itertools.batched arrives with Python 3.12; the project runs 3.11.
    iterator = iter(rows)
    while chunk := list(islice(iterator, IMPORT_CHUNK_ROWS)):
        yield chunk


@dataclass(frozen=True)
class ImportChunk:
    """One chunk of a CSV import read into lead items: what to store, and what is rejected."""

    items: list[dict[str, Any]]
    # (CSV line, external_id) of each item, to report a stored item's errors by line
    lines: list[tuple[int, str]]
    problems: list[dict[str, Any]]
    rows: int


def import_job_begin(*, job_id: int, now: datetime | None = None) -> ImportJob:
    """Mark a queued import as running (a finished or unconfirmed one is returned as it is)."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.status == ImportJob.Status.QUEUED:
            job.status = ImportJob.Status.RUNNING
            job.started_at = now or timezone.now()
            job.save(update_fields=["status", "started_at"])
    return job


def import_chunk_read(
    *, job_id: int, chunk: Sequence[csv_rows.CsvRow], done: int
) -> tuple[ImportJob, ImportChunk]:
    """Lock the job and read the chunk's rows it has not processed yet into lead items.

    `done` is how many rows come before the chunk; rows an earlier (interrupted) run
    already committed are skipped, so a re-run resumes. Call inside a transaction.
    """
    job = ImportJob.objects.select_for_update().get(pk=job_id)
    rows = (
        chunk[max(0, job.processed_rows - done) :] if done + len(chunk) > job.processed_rows else []
    )
    tz = ZoneInfo(job.time_zone)
    items: list[dict[str, Any]] = []
    lines: list[tuple[int, str]] = []
    problems: list[dict[str, Any]] = []
    for row in rows:
        if row.problem:
            problems.append({"line": row.line, "external_id": "", "errors": {"row": [row.problem]}})
            continue
        item, errors = csv_rows.row_item(row.cells, job.mapping, date_order=job.date_order, tz=tz)
        external_id = str(item.get("external_id") or "")
        if errors:
            problems.append({"line": row.line, "external_id": external_id, "errors": errors})
            continue
        items.append(item)
        lines.append((row.line, external_id))
    return job, ImportChunk(items=items, lines=lines, problems=problems, rows=len(rows))


def import_chunk_record(*, job: ImportJob, chunk: ImportChunk, result: BulkResult) -> None:
    """Add a stored chunk's outcome to the locked job (row-by-row report, counts) and save it."""
    problems = list(chunk.problems)
    for error in result.errors:
        line, external_id = chunk.lines[error["index"]]
        problems.append({"line": line, "external_id": external_id, "errors": error["errors"]})
    # A rejected cell may hold a NUL or undecodable bytes; the report shows them as U+FFFD.
    problems = printable(sorted(problems, key=lambda p: p["line"]))
    job.processed_rows += chunk.rows
    job.created += result.created
    job.updated += result.updated
    job.unchanged += result.unchanged
    job.rejected += len(problems)
    room = IMPORT_MAX_STORED_ERRORS - len(job.row_errors)
    if room > 0:
        job.row_errors = [*job.row_errors, *problems[:room]]
    job.save()


def import_job_finish(*, job_id: int, now: datetime | None = None) -> ImportJob:
    """Every row is processed: the import is done."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        job.status = ImportJob.Status.DONE
        job.total_rows = job.processed_rows
        job.finished_at = now or timezone.now()
        job.save()
    return job


def import_job_fail(*, job_id: int, error: Exception) -> None:
    """Record why an import stopped (the worker logs the trace)."""
    logger.exception("CSV import %s failed", job_id)
    ImportJob.objects.filter(pk=job_id).update(
        status=ImportJob.Status.FAILED,
        failure=f"{type(error).__name__}: {error}"[:2000],
        finished_at=timezone.now(),
    )
