"""The mappings chain 0001_initial to 0003_config_revision_and_payload_tried, squashed
(README, "Upgrading")."""

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    replaces = [('mappings', '0001_initial'), ('mappings', '0002_rate_limit_and_mapping_versions'), ('mappings', '0003_config_revision_and_payload_tried')]

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Customer',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=200)),
                ('slug', models.SlugField(max_length=64, unique=True)),
                ('active', models.BooleanField(default=True)),
                ('salesmanago_enabled', models.BooleanField(default=False, help_text="Send this customer's accepted data to its Salesmanago accounts.", verbose_name='Salesmanago integration enabled')),
                ('time_zone', models.CharField(default='Europe/Stockholm', help_text="The zone the customer's datetimes are in (they are sent without one).", max_length=64)),
                ('mapping_version', models.PositiveIntegerField(default=1, editable=False, help_text="Internal: counts changes to the customer's configuration, so cached copies are renewed. Each type's mapping version is on the type's page.", verbose_name='configuration revision')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('rate_limit_per_minute', models.PositiveIntegerField(blank=True, help_text='Requests per minute per API key; empty: the service default.', null=True)),
                ('payload_tried_at', models.DateTimeField(blank=True, editable=False, help_text='When staff first tried a payload the API accepted (Try a payload).', null=True, verbose_name='first payload tried')),
            ],
            options={
                'ordering': ['name'],
            },
        ),
        migrations.CreateModel(
            name='DataPointType',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('category', models.CharField(choices=[('profile', 'Profile'), ('event', 'Event'), ('inventory', 'Inventory')], max_length=16)),
                ('name', models.CharField(help_text="The value customers send in the payload's `type`.", max_length=100, validators=[django.core.validators.RegexValidator('^[A-Za-z_][A-Za-z0-9_\\-]*$', "Use letters, digits, '_' and '-', starting with a letter or '_'.")])),
                ('description', models.TextField(blank=True)),
                ('active', models.BooleanField(default=False, help_text='Only active types are accepted; needs a Hard-ID field.')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('customer', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='data_point_types', to='mappings.customer')),
                ('version', models.PositiveIntegerField(default=1, editable=False)),
            ],
            options={
                'ordering': ['customer__name', 'category', 'name'],
                'constraints': [models.UniqueConstraint(fields=('customer', 'name'), name='type_name_unique_per_customer')],
            },
        ),
        migrations.CreateModel(
            name='FieldMapping',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('source_field', models.CharField(help_text="The key in the payload's `data`.", max_length=100)),
                ('cdp_field', models.CharField(help_text='The name the value is stored under in the CDP.', max_length=100, validators=[django.core.validators.RegexValidator('^[A-Za-z_][A-Za-z0-9_\\-]*$', "Use letters, digits, '_' and '-', starting with a letter or '_'.")], verbose_name='CDP field')),
                ('data_type', models.CharField(choices=[('string', 'String'), ('integer', 'Integer'), ('decimal', 'Decimal'), ('float', 'Float'), ('boolean', 'Boolean'), ('date', 'Date (YYYY-MM-DD)'), ('datetime', 'Datetime'), ('email', 'Email'), ('phone', 'Phone'), ('list', 'List')], max_length=16)),
                ('format', models.CharField(blank=True, help_text='Datetime: a pattern such as YYYY-MM-DD HH:MM:SS. Boolean: the true/false words, such as Yes/No.', max_length=100)),
                ('optional', models.BooleanField(default=False)),
                ('hard_id', models.BooleanField(default=False, help_text="Part of the customer's own unique key.", verbose_name='Hard-ID')),
                ('secondary_id', models.BooleanField(default=False, help_text='Another id of the same entity, such as an email or CRM id.', verbose_name='secondary identifier')),
                ('position', models.PositiveIntegerField(default=0)),
                ('data_point_type', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='fields', to='mappings.datapointtype')),
                ('references', models.ForeignKey(blank=True, help_text='Events: the profile Hard-ID field this field refers to.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='referenced_by', to='mappings.fieldmapping')),
            ],
            options={
                'ordering': ['data_point_type', 'position', 'id'],
                'constraints': [models.UniqueConstraint(fields=('data_point_type', 'source_field'), name='source_field_unique_per_type', violation_error_message='This source field is already mapped in this type.'), models.UniqueConstraint(fields=('data_point_type', 'cdp_field'), name='cdp_field_unique_per_type', violation_error_message='This CDP field name is already used in this type.'), models.CheckConstraint(condition=models.Q(('hard_id', True), ('optional', True), _negated=True), name='hard_id_not_optional', violation_error_message='A Hard-ID field cannot be optional.'), models.CheckConstraint(condition=models.Q(('references', models.F('id')), _negated=True), name='field_does_not_reference_itself')],
            },
        ),
        migrations.CreateModel(
            name='GroupKey',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(max_length=100, validators=[django.core.validators.RegexValidator('^[A-Za-z_][A-Za-z0-9_\\-]*$', "Use letters, digits, '_' and '-', starting with a letter or '_'.")])),
                ('description', models.CharField(blank=True, max_length=200)),
                ('is_default', models.BooleanField(default=False, help_text='Used by v3 requests that send no groupKey.', verbose_name='default')),
                ('customer', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='group_keys', to='mappings.customer')),
            ],
            options={
                'ordering': ['customer__name', 'key'],
                'constraints': [models.UniqueConstraint(fields=('customer', 'key'), name='group_key_unique_per_customer'), models.UniqueConstraint(condition=models.Q(('is_default', True)), fields=('customer',), name='one_default_group_key_per_customer', violation_error_message='A customer has exactly one default group key.')],
            },
        ),
        migrations.CreateModel(
            name='MappingVersion',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('version', models.PositiveIntegerField()),
                ('fields', models.JSONField(help_text='The field mappings as they were saved.')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('data_point_type', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='versions', to='mappings.datapointtype')),
            ],
            options={
                'ordering': ['data_point_type', '-version'],
                'constraints': [models.UniqueConstraint(fields=('data_point_type', 'version'), name='one_mapping_version_number')],
            },
        ),
        # Created under its first name and renamed, as the chain did (0003): the
        # column's check constraint keeps the name it was created with.
        migrations.RenameField(
            model_name='customer',
            old_name='mapping_version',
            new_name='config_revision',
        ),
    ]
