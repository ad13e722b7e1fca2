import django.db.models.deletion
from django.db import migrations, models


def _drop_index(table: str, column: str, name: str) -> migrations.RunSQL:
    return migrations.RunSQL(
        f'DROP INDEX IF EXISTS "{name}"',
        reverse_sql=f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ("{column}")',
    )


class Migration(migrations.Migration):
    """A delivery's account and data point foreign keys lose their own indexes: each
    is the first column of another (delivery_by_age, one_delivery_per_revision), which
    serves every lookup by it. Only the indexes are dropped (AlterField alone would
    drop the foreign keys and add them again, checking every row)."""

    dependencies = [
        ("ingestion", "0001_squashed_0007_privacy"),
        ("integrations", "0001_squashed_0005_salesmanago_event"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                _drop_index(
                    "integrations_delivery",
                    "account_id",
                    "integrations_delivery_account_id_d0a417ab",
                ),
                _drop_index(
                    "integrations_delivery",
                    "data_point_id",
                    "integrations_delivery_data_point_id_f54daaf2",
                ),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="delivery",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="deliveries",
                        to="integrations.salesmanagoaccount",
                    ),
                ),
                migrations.AlterField(
                    model_name="delivery",
                    name="data_point",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="deliveries",
                        to="ingestion.datapoint",
                    ),
                ),
            ],
        )
    ]
