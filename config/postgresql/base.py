"""Django's PostgreSQL backend whose schema editor names the constraints of an added column.

Django adds a column with its CHECK (every Positive*Field) and UNIQUE inline and unnamed
(`ALTER TABLE … ADD COLUMN "round" integer … CHECK ("round" >= 0)`). Citus refuses that on a
distributed table ("all constraints in Citus must have explicit names"). Here the check gets
the name Django would give it (`<table>_<column>_…_check`) and the unique constraint is added
right after the column, under Django's generated name; a single server ends up with the same
constraints as before.
"""

from django.db.backends.postgresql import base, schema


class DatabaseSchemaEditor(schema.DatabaseSchemaEditor):
    _unique_later = False

    def add_field(self, model, field):
        if field.many_to_many:
            return super().add_field(model, field)
        db_params = field.db_parameters(connection=self.connection)
        unique_later = field.unique and not field.primary_key
        if db_params["check"]:
            name = self._create_index_name(model._meta.db_table, [field.column], suffix="_check")
            # Instance attribute for this call: CREATE TABLE keeps Django's inline form.
            self.sql_check_constraint = f"CONSTRAINT {self.quote_name(name)} CHECK (%(check)s)"
        self._unique_later = unique_later
        try:
            super().add_field(model, field)
        finally:
            self.__dict__.pop("sql_check_constraint", None)
            self._unique_later = False
        if unique_later:
            self.execute(self._create_unique_sql(model, [field]))

    def _iter_column_sql(
        self, column_db_type, params, model, field, field_db_params, include_default
    ):
        for part in super()._iter_column_sql(
            column_db_type, params, model, field, field_db_params, include_default
        ):
            if not (self._unique_later and part == "UNIQUE"):
                yield part


class DatabaseWrapper(base.DatabaseWrapper):
    SchemaEditorClass = DatabaseSchemaEditor
