"""COPY model instances into PostgreSQL fast, with ids assigned here so rows can reference each other.

Rows are built from model instances, so every field gets its model default: new
fields added later do not break the generator.
"""

from django.db import connection


def next_ids(model, count: int) -> range:
    """Reserve `count` primary keys from the table's sequence."""
    table = model._meta.db_table
    with connection.cursor() as cur:
        cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        seq = cur.fetchone()[0]
        cur.execute("SELECT setval(%s, nextval(%s) + %s - 1)", [seq, seq, count])
        last = cur.fetchone()[0]
    return range(last - count + 1, last + 1)


def copy_objects(model, objects) -> int:
    """COPY instances (with their pk already set) into the model's table; returns the row count."""
    fields = list(model._meta.concrete_fields)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    count = 0
    with (
        connection.cursor() as cur,
        cur.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for obj in objects:
            row = []
            for f in fields:
                # pre_save fills auto_now fields the way Model.save would.
                value = f.get_db_prep_save(f.pre_save(obj, True), connection)
                if hasattr(value, "dumps"):  # JSON adapters
                    value = value.dumps(value.obj)
                row.append(value)
            copy.write_row(row)
            count += 1
    return count
