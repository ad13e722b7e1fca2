"""The integrations chain 0001_initial to 0005_salesmanago_event, squashed
(README, "Upgrading")."""

import datatalks.crypto
import django.db.models.deletion
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):

    replaces = [('integrations', '0001_initial'), ('integrations', '0002_delivery_call_started'), ('integrations', '0003_health_rollups'), ('integrations', '0004_delivery_erase'), ('integrations', '0005_salesmanago_event')]

    initial = True

    dependencies = [
        ('ingestion', '0001_squashed_0007_privacy'),
        ('mappings', '0001_squashed_0003_config_revision_and_payload_tried'),
    ]

    operations = [
        migrations.CreateModel(
            name='IntegrationMapping',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('enabled', models.BooleanField(default=True)),
                ('data_point_type', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='salesmanago_mapping', to='mappings.datapointtype')),
            ],
            options={
                'verbose_name': 'Salesmanago mapping',
            },
        ),
        migrations.CreateModel(
            name='SalesmanagoAccount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('environment', models.CharField(choices=[('production', 'Production'), ('staging', 'Staging')], default='production', max_length=16)),
                ('base_url', models.URLField(help_text="The account's API v2 server, such as https://app3.salesmanago.com", verbose_name='server URL')),
                ('v3_base_url', models.URLField(default='https://api.salesmanago.com', help_text='Products and catalogs.', verbose_name='API v3 URL')),
                ('client_id', models.CharField(max_length=100, verbose_name='clientId')),
                ('api_secret', datatalks.crypto.EncryptedTextField(verbose_name='API secret')),
                ('v3_api_key', datatalks.crypto.EncryptedTextField(blank=True, verbose_name='API v3 key')),
                ('owner_email', models.EmailField(help_text='The account user data is owned by.', max_length=254, verbose_name='owner')),
                ('catalog_id', models.CharField(blank=True, max_length=64, verbose_name='product catalog id')),
                ('enabled', models.BooleanField(default=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('customer', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='salesmanago_accounts', to='mappings.customer')),
                ('group_key', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='mappings.groupkey')),
            ],
            options={
                'verbose_name': 'Salesmanago account',
                'ordering': ['customer__name', 'group_key__key', 'environment'],
                'constraints': [models.UniqueConstraint(fields=('customer', 'group_key', 'environment'), name='one_salesmanago_account_per_group_key')],
            },
        ),
        migrations.CreateModel(
            name='Delivery',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('revision', models.PositiveIntegerField()),
                ('category', models.CharField(choices=[('profile', 'Profile'), ('event', 'Event'), ('inventory', 'Inventory')], max_length=16)),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('sending', 'Sending'), ('sent', 'Sent'), ('failed', 'Failed'), ('dead', 'Dead (gave up retrying)'), ('superseded', 'Superseded by a newer revision'), ('unknown', 'Outcome unknown (the worker stopped during the call)'), ('cancelled', 'Cancelled (the person was erased)')], default='pending', max_length=16)),
                ('attempts', models.PositiveIntegerField(default=0)),
                ('next_attempt_at', models.DateTimeField()),
                ('claimed_at', models.DateTimeField(blank=True, null=True)),
                ('claim', models.UUIDField(blank=True, editable=False, null=True)),
                ('sent_at', models.DateTimeField(blank=True, null=True)),
                ('remote_id', models.CharField(blank=True, max_length=100)),
                ('last_error', models.TextField(blank=True)),
                ('request_excerpt', models.TextField(blank=True)),
                ('response_excerpt', models.TextField(blank=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('data_point', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='ingestion.datapoint')),
                ('account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='integrations.salesmanagoaccount')),
                ('call_started_at', models.DateTimeField(blank=True, null=True)),
                ('contact_email', datatalks.crypto.EncryptedTextField(blank=True, editable=False, null=True)),
                ('kind', models.CharField(choices=[('upsert', 'Send (create or update)'), ('erase', 'Erase (delete the contact)')], db_default='upsert', default='upsert', max_length=8)),
            ],
            options={
                'verbose_name_plural': 'deliveries',
                'ordering': ['-created_at'],
                'indexes': [models.Index(condition=models.Q(('status', 'pending')), fields=['account', 'next_attempt_at'], name='delivery_due'), models.Index(condition=models.Q(('status', 'sending')), fields=['claimed_at'], name='delivery_in_flight'), models.Index(condition=models.Q(('status__in', ['pending', 'sending', 'failed', 'dead', 'unknown'])), fields=['account', 'status'], name='delivery_open'), models.Index(condition=models.Q(('status', 'sent')), fields=['account', 'sent_at'], name='delivery_sent'), models.Index(fields=['account', 'created_at'], name='delivery_by_age')],
                'constraints': [models.UniqueConstraint(fields=('data_point', 'revision', 'account'), name='one_delivery_per_revision')],
            },
        ),
        migrations.CreateModel(
            name='MappingEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('string', 'String (one field to one field)'), ('list', 'List (an array field)'), ('dynamic', 'Dynamic (several fields through a template)'), ('constant', 'Constant')], default='string', max_length=16)),
                ('source', models.CharField(max_length=500)),
                ('target', models.CharField(max_length=200)),
                ('conversion', models.CharField(blank=True, choices=[('', 'As stored'), ('text', 'Text'), ('number', 'Number'), ('birthday', 'Date → yyyyMMdd'), ('epoch_ms', "Datetime → epoch milliseconds (customer's time zone)")], max_length=16)),
                ('name_template', models.CharField(blank=True, help_text='Dynamic properties: e.g. {field} or {Field}.', max_length=100)),
                ('position', models.PositiveIntegerField(default=0)),
                ('mapping', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='entries', to='integrations.integrationmapping')),
            ],
            options={
                'verbose_name': 'mapping entry',
                'verbose_name_plural': 'mapping entries',
                'ordering': ['mapping', 'position', 'id'],
                'constraints': [models.UniqueConstraint(fields=('mapping', 'target'), name='one_entry_per_target')],
            },
        ),
        migrations.CreateModel(
            name='SalesmanagoEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('event_id', models.CharField(max_length=100, verbose_name='eventId')),
                ('revision', models.PositiveIntegerField(help_text="The data point's revision Salesmanago last received.")),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField()),
                ('account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='integrations.salesmanagoaccount')),
                ('data_point', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='ingestion.datapoint')),
            ],
            options={
                'verbose_name': 'Salesmanago event',
                'constraints': [models.UniqueConstraint(fields=('data_point', 'account'), name='one_salesmanago_event')],
            },
        ),
    ]
