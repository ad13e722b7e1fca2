"""The ingestion chain 0001_initial to 0007_privacy, squashed
(README, "Upgrading")."""

import datatalks.crypto
import django.db.models.deletion
import ingestion.models
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):

    replaces = [('ingestion', '0001_initial'), ('ingestion', '0002_requestlog_mapping_version'), ('ingestion', '0003_file_uploads'), ('ingestion', '0004_health_rollups'), ('ingestion', '0005_file_takeovers'), ('ingestion', '0006_requestlog_changed'), ('ingestion', '0007_privacy')]

    initial = True

    dependencies = [
        ('mappings', '0001_squashed_0003_config_revision_and_payload_tried'),
    ]

    operations = [
        migrations.CreateModel(
            name='ApiCredential',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('environment', models.CharField(choices=[('production', 'Production'), ('staging', 'Staging')], default='production', max_length=16)),
                ('access_key_id', models.CharField(default=ingestion.models.new_access_key_id, editable=False, max_length=20, unique=True, verbose_name='access key id')),
                ('secret_access_key', datatalks.crypto.EncryptedTextField(default=ingestion.models.new_secret_access_key, editable=False)),
                ('description', models.CharField(blank=True, max_length=200)),
                ('active', models.BooleanField(default=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('last_used_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('customer', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='credentials', to='mappings.customer')),
            ],
            options={
                'verbose_name': 'API credential',
                'ordering': ['customer__name', '-created_at'],
            },
        ),
        migrations.CreateModel(
            name='DataPoint',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False, verbose_name='Datatalks ID')),
                ('environment', models.CharField(choices=[('production', 'Production'), ('staging', 'Staging')], max_length=16)),
                ('hard_id', models.TextField(help_text="The Hard-ID's values, \\x1f-separated.", verbose_name='Hard-ID')),
                ('data', models.JSONField(help_text='The mapped values by CDP field name.')),
                ('profile_hard_id', models.TextField(blank=True, default='')),
                ('revision', models.PositiveIntegerField(default=1)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('customer', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='mappings.customer')),
                ('data_point_type', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='mappings.datapointtype')),
                ('group_key', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='mappings.groupkey')),
                ('profile', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='events', to='ingestion.datapoint')),
                ('profile_type', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='mappings.datapointtype')),
                ('erased_at', models.DateTimeField(blank=True, editable=False, null=True)),
            ],
            options={
                'verbose_name': 'data point',
                'indexes': [models.Index(condition=models.Q(('profile__isnull', True), ('profile_type__isnull', False)), fields=['profile_type', 'environment', 'profile_hard_id'], name='datapoint_unlinked_events')],
                'constraints': [models.UniqueConstraint(fields=('customer', 'environment', 'data_point_type', 'hard_id'), name='one_datapoint_per_hard_id')],
                'permissions': [('erase_datapoint', "Can erase a person's data")],
            },
        ),
        migrations.CreateModel(
            name='IdentityCollision',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('environment', models.CharField(choices=[('production', 'Production'), ('staging', 'Staging')], max_length=16)),
                ('kind', models.CharField(max_length=100)),
                ('value', models.CharField(max_length=512)),
                ('request_id', models.UUIDField(blank=True, null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('claimant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='ingestion.datapoint')),
                ('customer', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='mappings.customer')),
                ('owner', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='ingestion.datapoint')),
            ],
            options={
                'ordering': ['-created_at'],
                'constraints': [models.UniqueConstraint(fields=('kind', 'value', 'owner', 'claimant'), name='collision_recorded_once')],
            },
        ),
        migrations.CreateModel(
            name='RequestLog',
            fields=[
                ('request_id', models.UUIDField(editable=False, primary_key=True, serialize=False)),
                ('access_key_id', models.CharField(blank=True, max_length=20)),
                ('environment', models.CharField(blank=True, max_length=16)),
                ('method', models.CharField(max_length=10)),
                ('path', models.CharField(max_length=300)),
                ('type_name', models.CharField(blank=True, max_length=100, verbose_name='type')),
                ('status_code', models.PositiveSmallIntegerField()),
                ('messages', models.JSONField(default=list)),
                ('datatalks_id', models.UUIDField(blank=True, null=True, verbose_name='Datatalks ID')),
                ('duration_ms', models.FloatField()),
                ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('customer', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='mappings.customer')),
                ('mapping_version', models.PositiveIntegerField(blank=True, help_text="The version of the type's mapping that judged it.", null=True)),
                ('changed', models.BooleanField(blank=True, help_text='Whether the accepted data changed what was stored; no: identical to what its Hard-ID already had (no new revision, nothing sent). Empty for requests that stored nothing.', null=True)),
            ],
            options={
                'verbose_name': 'API request',
                'ordering': ['-created_at'],
                'indexes': [models.Index(fields=['customer', '-created_at'], name='requestlog_by_customer')],
            },
        ),
        migrations.CreateModel(
            name='SecondaryIdentifier',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('environment', models.CharField(choices=[('production', 'Production'), ('staging', 'Staging')], max_length=16)),
                ('kind', models.CharField(help_text='The CDP field name, such as email.', max_length=100)),
                ('value', models.CharField(max_length=512)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('customer', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='mappings.customer')),
                ('data_point', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='secondary_ids', to='ingestion.datapoint')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('customer', 'environment', 'kind', 'value'), name='secondary_id_unique_per_customer')],
            },
        ),
        migrations.CreateModel(
            name='FileUpload',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, primary_key=True, serialize=False, verbose_name='file id')),
                ('environment', models.CharField(choices=[('production', 'Production'), ('staging', 'Staging')], max_length=16)),
                ('access_key_id', models.CharField(blank=True, help_text='The key that signed the upload.', max_length=20)),
                ('uploaded_by', models.CharField(blank=True, help_text='The staff user, for admin uploads.', max_length=150)),
                ('category', models.CharField(max_length=16)),
                ('type_name', models.CharField(max_length=100, verbose_name='type')),
                ('group_key', models.CharField(blank=True, help_text="Empty: the customer's default.", max_length=100)),
                ('format', models.CharField(choices=[('csv', 'CSV'), ('jsonl', 'JSON lines'), ('xlsx', 'XLSX')], max_length=8)),
                ('storage_name', models.CharField(max_length=300)),
                ('size', models.BigIntegerField(help_text='Bytes.')),
                ('sha256', models.CharField(max_length=64, verbose_name='SHA-256')),
                ('status', models.CharField(choices=[('queued', 'Queued'), ('processing', 'Processing'), ('done', 'Done'), ('failed', 'Failed')], default='queued', max_length=16)),
                ('failure', models.TextField(blank=True, help_text='Why the file failed as a whole.')),
                ('position', models.PositiveBigIntegerField(default=0, help_text='The last row number processed: where a worker resumes.')),
                ('rows_accepted', models.PositiveBigIntegerField(default=0)),
                ('rows_rejected', models.PositiveBigIntegerField(default=0)),
                ('progress', models.FloatField(default=0.0, help_text='0 to 1, estimated.')),
                ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('heartbeat_at', models.DateTimeField(blank=True, help_text='When the last chunk was committed.', null=True)),
                ('claim', models.UUIDField(blank=True, editable=False, null=True)),
                ('deleted_at', models.DateTimeField(blank=True, help_text='When the stored file was deleted (retention).', null=True)),
                ('customer', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='mappings.customer')),
                ('takeovers', models.PositiveSmallIntegerField(default=0, help_text='Times in a row a worker died or went quiet on this file before storing a chunk; past DATATALKS_FILE_MAX_TAKEOVERS the file fails.')),
            ],
            options={
                'verbose_name': 'file upload',
                'ordering': ['-created_at'],
                'indexes': [models.Index(fields=['customer', '-created_at'], name='file_by_customer'), models.Index(fields=['status', 'heartbeat_at'], name='file_by_status')],
            },
        ),
        migrations.CreateModel(
            name='RejectedRow',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('row', models.PositiveBigIntegerField(help_text='The row as a spreadsheet numbers it (the header is row 1), or the line number in JSON lines.')),
                ('hard_id', models.TextField(blank=True, verbose_name='Hard-ID')),
                ('messages', models.JSONField(default=list)),
                ('file', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='rejected_rows', to='ingestion.fileupload')),
            ],
            options={
                'ordering': ['file', 'row'],
                'constraints': [models.UniqueConstraint(fields=('file', 'row'), name='rejected_row_once')],
            },
        ),
        migrations.CreateModel(
            name='RollupMark',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=50, unique=True)),
                ('until', models.DateTimeField()),
            ],
        ),
        migrations.CreateModel(
            name='RejectionRollup',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('message', models.CharField(max_length=300)),
                ('count', models.PositiveIntegerField(default=0)),
                ('example_request_id', models.UUIDField()),
                ('customer', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='mappings.customer')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('customer', 'day', 'message'), name='one_rejection_rollup_per_day')],
            },
        ),
        migrations.CreateModel(
            name='RequestRollup',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('hour', models.DateTimeField()),
                ('type_name', models.CharField(blank=True, max_length=100, verbose_name='type')),
                ('accepted', models.PositiveIntegerField(default=0)),
                ('rejected', models.PositiveIntegerField(default=0)),
                ('customer', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='mappings.customer')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('customer', 'hour', 'type_name'), name='one_rollup_per_hour')],
            },
        ),
        migrations.CreateModel(
            name='ErasureLog',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('environment', models.CharField(choices=[('production', 'Production'), ('staging', 'Staging')], max_length=16)),
                ('datatalks_id', models.UUIDField(db_index=True, verbose_name='Datatalks ID')),
                ('type_name', models.CharField(max_length=100, verbose_name='type')),
                ('via', models.CharField(choices=[('api', 'API (DELETE /v3/profiles/{id})'), ('admin', 'Admin (staff)')], max_length=8)),
                ('requested_by', models.CharField(help_text="The access key id, or the staff user's name.", max_length=150)),
                ('reason', models.TextField(blank=True)),
                ('suppressed', models.BooleanField(default=False, help_text='Later data for the same person is refused.')),
                ('erased', models.JSONField(default=dict, help_text='What was erased in the database, as counts.')),
                ('salesmanago_accounts', models.JSONField(default=list, help_text='The accounts the contact is deleted in (clientIds).')),
                ('request_id', models.UUIDField(blank=True, null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('customer', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='mappings.customer')),
            ],
            options={
                'verbose_name': 'erasure',
                'ordering': ['-created_at'],
            },
        ),
        migrations.CreateModel(
            name='RetentionPeriods',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('request_log_days', models.PositiveIntegerField(blank=True, help_text='API requests and their messages. Empty: DATATALKS_RETENTION_REQUEST_LOG_DAYS.', null=True, verbose_name='request log (days)')),
                ('deliveries_days', models.PositiveIntegerField(blank=True, help_text='Deliveries that ended (sent, failed, dead, superseded, cancelled), with their excerpts. Empty: DATATALKS_RETENTION_DELIVERIES_DAYS.', null=True, verbose_name='delivered sends (days)')),
                ('customer', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='retention', to='mappings.customer')),
            ],
            options={
                'verbose_name': 'retention periods',
                'verbose_name_plural': 'retention periods',
            },
        ),
        migrations.CreateModel(
            name='Suppression',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('environment', models.CharField(choices=[('production', 'Production'), ('staging', 'Staging')], max_length=16)),
                ('digest', models.CharField(help_text='HMAC-SHA256, hex.', max_length=64)),
                ('what', models.CharField(help_text="Which identifier, such as 'Hard-ID of person'.", max_length=120)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('lifted_at', models.DateTimeField(blank=True, null=True)),
                ('lifted_by', models.CharField(blank=True, max_length=150)),
                ('customer', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='mappings.customer')),
                ('erasure', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='suppressions', to='ingestion.erasurelog')),
            ],
            options={
                'ordering': ['-created_at'],
                'constraints': [models.UniqueConstraint(condition=models.Q(('lifted_at__isnull', True)), fields=('customer', 'environment', 'digest'), name='one_active_suppression')],
            },
        ),
    ]
