import django.db.models.deletion
from django.db import migrations, models


def _drop_index(table: str, column: str, name: str) -> migrations.RunSQL:
    return migrations.RunSQL(
        f'DROP INDEX IF EXISTS "{name}"',
        reverse_sql=f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ("{column}")',
    )


class Migration(migrations.Migration):
    """The customer foreign keys of data points and secondary ids lose their own
    indexes: each is the first column of the table's unique index, which serves every
    lookup by it. Only the indexes are dropped (AlterField alone would drop the
    foreign keys and add them again, checking every row)."""

    dependencies = [
        ("ingestion", "0001_squashed_0007_privacy"),
        ("mappings", "0001_squashed_0003_config_revision_and_payload_tried"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                _drop_index(
                    "ingestion_datapoint",
                    "customer_id",
                    "ingestion_datapoint_customer_id_dd6999aa",
                ),
                _drop_index(
                    "ingestion_secondaryidentifier",
                    "customer_id",
                    "ingestion_secondaryidentifier_customer_id_066750d1",
                ),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="datapoint",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="mappings.customer",
                    ),
                ),
                migrations.AlterField(
                    model_name="secondaryidentifier",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="mappings.customer",
                    ),
                ),
            ],
        )
    ]
