from django.db import migrations, models


class Migration(migrations.Migration):
    """The customer's cache counter is no longer called a mapping version (each type has
    its own); the onboarding checklist records when a payload was first tried."""

    dependencies = [
        ("mappings", "0002_rate_limit_and_mapping_versions"),
    ]

    operations = [
        migrations.RenameField(
            model_name="customer", old_name="mapping_version", new_name="config_revision"
        ),
        migrations.AlterField(
            model_name="customer",
            name="config_revision",
            field=models.PositiveIntegerField(
                default=1,
                editable=False,
                help_text="Internal: counts changes to the customer's configuration, so "
                "cached copies are renewed. Each type's mapping version is on the type's "
                "page.",
                verbose_name="configuration revision",
            ),
        ),
        migrations.AddField(
            model_name="customer",
            name="payload_tried_at",
            field=models.DateTimeField(
                blank=True,
                editable=False,
                help_text="When staff first tried a payload the API accepted (Try a "
                "payload).",
                null=True,
                verbose_name="first payload tried",
            ),
        ),
    ]
