from django.db import migrations

from datatalks.migration_ops import DropForeignKeyIndex


class Migration(migrations.Migration):
    """The customer foreign keys of data points and secondary ids lose their own
    indexes: each is the first column of the table's unique index, which serves every
    lookup by it."""

    dependencies = [
        ("ingestion", "0001_squashed_0007_privacy"),
        ("mappings", "0001_squashed_0003_config_revision_and_payload_tried"),
    ]

    operations = [
        DropForeignKeyIndex(
            "datapoint", "customer", "ingestion_datapoint_customer_id_dd6999aa"
        ),
        DropForeignKeyIndex(
            "secondaryidentifier",
            "customer",
            "ingestion_secondaryidentifier_customer_id_066750d1",
        ),
    ]
