"""Migration operations the apps' migrations share."""

from django.db.migrations.operations.base import Operation


class DropForeignKeyIndex(Operation):
    """Drops the index of a foreign key (Django's ``db_index``) and keeps the key.

    For a key whose lookups another index serves (it is that index's first column).
    AlterField to ``db_index=False`` would drop the key's constraint and add it again,
    checking every row of the table; this drops only the index, and creates it again
    when reversed. ``index_name`` is the name Django gave it.
    """

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str, name: str, index_name: str):
        self.model_name, self.name, self.index_name = model_name, name, index_name

    def state_forwards(self, app_label, state):
        field = state.models[app_label, self.model_name].fields[self.name]
        _, _, args, kwargs = field.deconstruct()
        unindexed = field.__class__(*args, **{**kwargs, "db_index": False})
        state.alter_field(app_label, self.model_name, self.name, unindexed, True)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        index = schema_editor.quote_name(self.index_name)
        schema_editor.execute(f"DROP INDEX IF EXISTS {index}")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        column = model._meta.get_field(self.name).column
        quote = schema_editor.quote_name
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {quote(self.index_name)} "
            f"ON {quote(model._meta.db_table)} ({quote(column)})"
        )

    def describe(self):
        return f"Drop the index of {self.model_name}.{self.name}, keep the foreign key"
