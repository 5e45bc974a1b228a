"""apps/tenants/sql_statements.py: one statement per RunSQL string (Citus forwards a DDL
statement's whole text to the worker, which refuses several commands in one)."""

from importlib import import_module

import pytest

from apps.tenants.sql_statements import statements

AUDIT = import_module("apps.accounts.migrations.0003_audit_append_only")
EVIDENCE = import_module("apps.sla.migrations.0006_evidence_triggers")

FUNCTION = """CREATE OR REPLACE FUNCTION guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN RAISE EXCEPTION 'no; really'; END IF;
    RETURN NEW;
END;
$$"""


def test_a_script_splits_at_its_semicolons_and_bodies_stay_whole():
    script = f"""
    -- the guard; and its trigger
    {FUNCTION};
    CREATE TRIGGER t BEFORE DELETE ON x FOR EACH ROW EXECUTE FUNCTION guard();
    ALTER TABLE x ENABLE ALWAYS TRIGGER t;
    """

    found = statements(script)

    assert found == [
        f"-- the guard; and its trigger\n    {FUNCTION}",
        "CREATE TRIGGER t BEFORE DELETE ON x FOR EACH ROW EXECUTE FUNCTION guard()",
        "ALTER TABLE x ENABLE ALWAYS TRIGGER t",
    ]


def test_named_dollar_quotes_strings_identifiers_and_comments_keep_their_semicolons():
    script = (
        "SELECT 'a;b', 'it''s; fine' AS \"odd;name\";\n"
        "/* block; comment */ DO $fn$ BEGIN PERFORM 1; PERFORM $$x;$$; END $fn$;\n"
        "-- trailing; comment only\n"
    )

    assert statements(script) == [
        "SELECT 'a;b', 'it''s; fine' AS \"odd;name\"",
        "/* block; comment */ DO $fn$ BEGIN PERFORM 1; PERFORM $$x;$$; END $fn$",
    ]


def test_an_unterminated_body_is_an_error_not_a_silent_split():
    with pytest.raises(ValueError, match=r"unterminated dollar-quoted body opened by \$\$"):
        statements("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; ")


@pytest.mark.parametrize(
    ("module", "creates", "drops"),
    [(AUDIT, (2, 2, 2), 2), (EVIDENCE, (6, 13, 13), 15)],
)
def test_the_trigger_migrations_split_into_their_functions_triggers_and_modes(
    module, creates, drops
):
    created, dropped = statements(module.CREATE), statements(module.DROP)
    kinds = [piece.split()[:4] for piece in created]

    functions = sum(kind[:2] == ["CREATE", "OR"] for kind in kinds)
    triggers = sum(kind[:2] == ["CREATE", "TRIGGER"] for kind in kinds)
    modes = sum(
        kind[0] == "ALTER" and "ALWAYS" in piece for kind, piece in zip(kinds, created, strict=True)
    )
    assert (functions, triggers, modes) == creates
    assert len(created) == sum(creates)
    assert len(dropped) == drops
    # Each piece is one statement: splitting it again changes nothing.
    for piece in created + dropped:
        assert statements(piece) == [piece]
    assert all(piece.rstrip().endswith("$$") for piece in created if piece.startswith("CREATE OR"))
