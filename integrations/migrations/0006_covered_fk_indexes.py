from django.db import migrations

from datatalks.migration_ops import DropForeignKeyIndex


class Migration(migrations.Migration):
    """A delivery's account and data point foreign keys lose their own indexes: each
    is the first column of another (delivery_by_age, one_delivery_per_revision), which
    serves every lookup by it."""

    dependencies = [
        ("ingestion", "0001_squashed_0007_privacy"),
        ("integrations", "0001_squashed_0005_salesmanago_event"),
    ]

    operations = [
        DropForeignKeyIndex(
            "delivery", "account", "integrations_delivery_account_id_d0a417ab"
        ),
        DropForeignKeyIndex(
            "delivery", "data_point", "integrations_delivery_data_point_id_f54daaf2"
        ),
    ]
