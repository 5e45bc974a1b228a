"""Sign-off evidence against the database owner: every forgery of issue #15 is refused by
PostgreSQL or caught by verify/, which says what and which signature.

Two attackers. The app's role (what a compromised web process or a shell with the app's
credentials has) is refused by PostgreSQL outright. The owner role (a DBA; the strongest
attacker short of the signing key) can disable the triggers of the tables it owns — so
its forgeries are made with the triggers lifted, and verification catches each one.
Owner forgeries run on the owner's own connection inside a transaction that is rolled
back, so acme is left as it was.
"""

import io
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test import override_settings
from django.utils import timezone
from psycopg import sql

from apps.accounts.services import api_key_create
from apps.mql.models import MqlDefinition
from apps.sla import selectors, services
from apps.sla.models import Signature, SlaVersion, VersionStatus
from apps.tenants.database_roles import owner_connection
from tests.accounts.factories import UserFactory
from tests.sla import factories as f
from tests.support.database import EVIDENCE_TABLES

PASSWORD = "correct-horse-battery-9"  # UserFactory's


class _Rollback(Exception):
    pass


@contextmanager
def owner_transaction(schema: str = "acme"):
    """The owner's connection in ``schema``, in a transaction that is rolled back at the end."""
    with owner_connection() as conn:
        conn.set_schema(schema)
        try:
            with transaction.atomic():
                # Foreign keys checked at once, so TRUNCATE and ALTER TABLE meet no
                # pending deferred checks.
                _execute("SET CONSTRAINTS ALL IMMEDIATE")
                yield conn
                raise _Rollback
        except _Rollback:
            pass


def _execute(statement, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def _lift_triggers():
    """What the owner can do and the app cannot: switch the evidence triggers off."""
    for table in EVIDENCE_TABLES:
        _execute(sql.SQL("ALTER TABLE {} DISABLE TRIGGER USER").format(sql.Identifier(table)))


def _sign_off(*, effective_at=None, definition=None):
    """Two leaders and a version both signed, through the services (on the current connection)."""
    marketing = UserFactory(role="marketing_leader")
    sales = UserFactory(role="sales_leader")
    if definition is None:
        definition = f.definition()
    version = services.version_create(
        actor=marketing, template_key="sample_sla", effective_at=effective_at
    )
    services.version_update(version=version, actor=marketing, mql_definition=definition)
    services.version_submit(version=version, actor=marketing)
    for leader in (sales, marketing):
        services.version_sign(
            version=version, actor=leader, password=PASSWORD, content_hash=version.content_hash
        )
    return selectors.version_detail_queryset().get(pk=version.pk), marketing, sales


def _verify(version):
    return selectors.version_verify(version=selectors.version_detail_queryset().get(pk=version.pk))


def _codes(result):
    return {problem.code for problem in result.problems}


# --- the app's role: least privilege ---------------------------------------------------


def test_the_app_connects_as_a_least_privilege_role(acme):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls "
            "FROM pg_roles WHERE rolname = current_user"
        )
        role, superuser, createrole, createdb, bypassrls = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM pg_tables WHERE tableowner = current_user "
            "OR schemaname = current_user"
        )
        owned = cursor.fetchone()[0]
    assert not (superuser or createrole or createdb or bypassrls), role
    assert owned == 0
    with owner_connection() as owner:
        assert owner.settings_dict["USER"] != role  # DDL runs as another role


@pytest.mark.parametrize(
    "statement",
    [
        "TRUNCATE sla_signature",
        "TRUNCATE accounts_auditevent",
        "TRUNCATE leads_lead CASCADE",
        "ALTER TABLE sla_signature DISABLE TRIGGER USER",
        "ALTER TABLE sla_slaversion DISABLE TRIGGER sla_slaversion_signed_guard",
        "DROP TRIGGER sla_signature_append_only ON sla_signature",
        "SET session_replication_role = replica",
        "CREATE TABLE forged (id int)",
        "CREATE SCHEMA forged",
    ],
)
def test_the_app_role_cannot_get_around_the_triggers(acme, statement):
    with (
        pytest.raises(DatabaseError, match=r"permission denied|must be owner"),
        transaction.atomic(),
    ):
        _execute(statement)


# --- each forgery of the issue ------------------------------------------------------------


def test_truncating_the_signatures_is_refused_and_caught_when_forced(acme):
    with owner_transaction():
        version, _, _ = _sign_off()
        with pytest.raises(DatabaseError, match="TRUNCATE refused"), transaction.atomic():
            _execute("TRUNCATE sla_signature")
        assert _verify(version).is_intact

        _lift_triggers()
        _execute("TRUNCATE sla_signature")
        result = _verify(version)
    assert not result.is_intact
    messages = [p.message for p in result.problems if p.code == "signature_missing"]
    assert "Signature #1 of this version's sign-off is missing." in messages
    assert "Signature #2 of this version's sign-off is missing." in messages
    assert any("no marketing signature" in m for m in messages)


def test_rewriting_content_and_every_hash_consistently_is_caught(acme):
    """The issue's replica-mode forgery: purpose, stored content hash and both signatures'
    hashes rewritten so the bare SHA-256 matches again. The MACs need the key."""
    with owner_transaction() as owner:
        version, _, _ = _sign_off()
        with connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            superuser = cursor.fetchone()[0]
        if superuser:
            # Replica mode no longer switches the guards off: they are ENABLE ALWAYS.
            _execute("SET session_replication_role = replica")
            with pytest.raises(DatabaseError, match="signed"), transaction.atomic():
                SlaVersion.objects.filter(pk=version.pk).update(purpose="forged")
            _execute("SET session_replication_role = origin")
        else:
            with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
                _execute("SET session_replication_role = replica")
        _lift_triggers()
        SlaVersion.objects.filter(pk=version.pk).update(purpose="We promise nothing.")
        forged = selectors.version_content_hash(
            selectors.version_detail_queryset().get(pk=version.pk)
        )
        SlaVersion.objects.filter(pk=version.pk).update(content_hash=forged)
        Signature.objects.filter(version=version).update(content_hash=forged)
        result = _verify(version)
        assert owner.settings_dict["USER"] != connection.settings_dict.get("NAME")
    assert result.computed_hash == result.stored_hash  # the bare hash alone would say intact
    assert not result.is_intact
    assert _codes(result) >= {"seal_broken", "signature_altered"}
    altered = [p for p in result.problems if p.code == "signature_altered"]
    assert len(altered) == 2 and all(p.signature for p in altered)


def test_an_orm_supersession_of_a_signed_version_is_caught(acme):
    """The app's own role may move a signed version to superseded (signing a successor
    does); without a successor and without the key, verify/ says so."""
    version, _, _ = _sign_off()
    assert _verify(version).is_intact
    SlaVersion.objects.filter(pk=version.pk).update(
        status=VersionStatus.SUPERSEDED, superseded_at=timezone.now()
    )
    result = _verify(version)
    assert not result.is_intact
    assert _codes(result) == {"seal_broken", "superseded_without_successor"}


def test_the_embedded_mql_definition_is_frozen_and_a_forced_change_is_caught(acme):
    version, _, _ = _sign_off()
    definition = version.mql_definition
    with pytest.raises(DatabaseError, match="part of signed SLA version"), transaction.atomic():
        MqlDefinition.objects.filter(pk=definition.pk).update(rules={"fit": {}})
    with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
        _execute("TRUNCATE mql_mqldefinition CASCADE")


def test_a_forced_change_of_the_embedded_definition_is_caught(acme):
    with owner_transaction():
        version, _, _ = _sign_off()
        _lift_triggers()
        MqlDefinition.objects.filter(pk=version.mql_definition_id).update(rules={"fit": {}})
        result = _verify(version)
    assert not result.is_intact
    assert "content_changed" in _codes(result)


def test_deleting_a_signature_from_the_middle_of_the_chain_names_it(acme):
    with owner_transaction():
        first, _, _ = _sign_off()
        second, _, _ = _sign_off(effective_at=timezone.now() + timedelta(days=3))
        chain = list(Signature.objects.order_by("sequence").values_list("sequence", flat=True))
        _lift_triggers()
        Signature.objects.filter(version=first, team="marketing").delete()
        first_result, second_result = _verify(first), _verify(second)
    assert chain[:4] == [1, 2, 3, 4]
    assert "Signature #2 of this version's sign-off is missing." in [
        p.message for p in first_result.problems
    ]
    # The next signature in the organization's chain points at the missing one.
    assert any(
        p.code == "signature_missing" and "#2, the one before Signature #3" in p.message
        for p in second_result.problems
    )


def test_a_signature_added_outside_the_app_is_refused_or_caught(acme):
    version, marketing, _ = _sign_off()
    with pytest.raises(DatabaseError, match="signed"), transaction.atomic():
        Signature.objects.create(
            version=version,
            signer=marketing,
            role="marketing_leader",
            team="marketing",
            content_hash=version.content_hash,
            round=9,
            sequence=99,
            key_id="dev",
            mac="0" * 64,
        )
    with pytest.raises(DatabaseError, match="chain and its MAC"), transaction.atomic():
        Signature.objects.create(
            version=version, signer=marketing, role="x", team="sales", content_hash="x"
        )

    # On a version awaiting signatures the app's role can insert a row — without the key.
    pending = services.version_create(actor=marketing, from_version=version)
    services.version_submit(version=pending, actor=marketing)
    head = Signature.objects.order_by("-sequence").first()
    forged = Signature.objects.create(
        version=pending,
        signer=marketing,
        role="sales_leader",
        team="sales",
        content_hash=pending.content_hash,
        round=pending.signing_round,
        sequence=head.sequence + 1,
        previous_mac=head.mac,
        key_id=head.key_id,
        mac="f" * 64,
    )
    result = _verify(pending)
    assert [(p.code, p.signature) for p in result.problems] == [
        ("seal_broken", None),
        ("signature_added", forged.pk),
    ]


def test_signature_rows_and_the_logs_are_append_only(acme, make_user):
    version, marketing, _ = _sign_off()
    refusals = [
        lambda: Signature.objects.filter(version=version).update(ip_address="10.0.0.1"),
        lambda: Signature.objects.filter(version=version).delete(),
        lambda: version.changes.update(summary="nothing happened"),
        lambda: _execute("DELETE FROM sla_slaversionchange"),
        lambda: _execute("UPDATE accounts_auditevent SET action = 'x'"),
        lambda: _execute("DELETE FROM accounts_auditevent"),
    ]
    services.version_create(actor=marketing)  # more rows in the log
    api_key_create(name="audited", created_by=marketing, user=marketing)
    for refusal in refusals:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            refusal()


def test_keys_rotate_by_key_id(acme):
    old = "old:" + "o" * 40
    new = "new:" + "n" * 40
    with override_settings(SLA_SIGNING_KEYS=old):
        version, _, _ = _sign_off()
    with override_settings(SLA_SIGNING_KEYS=f"{new},{old}"):
        assert _verify(version).is_intact  # verified with the key id stored with each MAC
        report = services.evidence_seal()  # version seals move to the current key
        assert report.versions_rekeyed == 1 and not report.refused
        assert SlaVersion.objects.get(pk=version.pk).seal_key_id == "new"
        later, _, _ = _sign_off(effective_at=timezone.now() + timedelta(days=2))
        assert set(later.signatures.values_list("key_id", flat=True)) == {"new"}
        assert _verify(later).is_intact and _verify(version).is_intact
    with override_settings(SLA_SIGNING_KEYS=new):
        result = _verify(version)
    assert "unknown_key" in _codes(result)  # signatures keep their key: keep old keys configured


def test_a_signature_made_with_a_retired_key_after_a_newer_one_is_flagged(acme):
    old = "old:" + "o" * 40
    new = "new:" + "n" * 40
    with override_settings(SLA_SIGNING_KEYS=new):
        _sign_off()
    with override_settings(SLA_SIGNING_KEYS=old):  # someone holding only the old key signs on
        late, _, _ = _sign_off(effective_at=timezone.now() + timedelta(days=2))
    with override_settings(SLA_SIGNING_KEYS=f"{new},{old}"):
        result = _verify(late)
    assert "key_out_of_order" in _codes(result)


# --- signatures made before keyed signatures ----------------------------------------------


def test_sla_seal_vouches_once_for_legacy_evidence_that_still_holds(acme):
    with owner_transaction():
        good, _, _ = _sign_off()
        tampered, _, _ = _sign_off(effective_at=timezone.now() + timedelta(days=4))
        _lift_triggers()
        # As the evidence was before this release: bare hashes, no chain, no seal.
        Signature.objects.update(sequence=None, previous_mac="", key_id="", mac="")
        SlaVersion.objects.update(seal="", seal_key_id="", sealed_signatures=[])
        SlaVersion.objects.filter(pk=tampered.pk).update(purpose="changed since")
        for table in EVIDENCE_TABLES:
            _execute(sql.SQL("ALTER TABLE {} ENABLE TRIGGER USER").format(sql.Identifier(table)))
        assert "not_sealed" in _codes(_verify(good))

        report = services.evidence_seal()
        again = services.evidence_seal()
        good_result, tampered_result = _verify(good), _verify(tampered)
    assert (report.signatures_sealed, report.versions_sealed) == (2, 1)
    assert report.refused == (
        f"v{tampered.number}: its content no longer hashes to what was submitted",
    )
    assert good_result.is_intact
    assert not tampered_result.is_intact
    assert (again.signatures_sealed, again.versions_sealed) == (0, 0)


def test_sla_seal_command_checks_every_version(acme):
    version, _, _ = _sign_off()
    out = io.StringIO()
    call_command("sla_seal", "--schema", "acme", "--check", stdout=out)
    assert f"acme v{version.number}: intact" in out.getvalue()
    SlaVersion.objects.filter(pk=version.pk).update(
        status=VersionStatus.SUPERSEDED, superseded_at=timezone.now()
    )
    out = io.StringIO()
    with pytest.raises(CommandError, match="does not hold"):
        call_command("sla_seal", "--schema", "acme", "--check", stdout=out)
    assert "NOT INTACT" in out.getvalue() and "seal_broken" in out.getvalue()
    connection.set_tenant(acme)
