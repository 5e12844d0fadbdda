"""Schema of outcomes other than resolved (false alarm, duplicate, declined), corrections of stage
times, editable and strikable notes (their history in HistoricalTimelineEvent), decisions
that supersede earlier ones.
(Data in 0007, constraints in 0008: PostgreSQL refuses to alter a table with pending
trigger events from rows changed in the same transaction.)"""

import common.validators
import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0005_one_line_titles'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='HistoricalTimelineEvent',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('kind', models.CharField(choices=[('declared', 'Declared'), ('note', 'Note'), ('stage_moved', 'Stage moved'), ('stage_skipped', 'Stages skipped'), ('reopened', 'Reopened'), ('closed', 'Closed'), ('decision', 'Decision'), ('role_assigned', 'Role assigned'), ('fields_changed', 'Fields changed'), ('severity_changed', 'Severity changed'), ('status_update', 'Status update'), ('stage_time_corrected', 'Stage time corrected'), ('duplicate_linked', 'Duplicate linked')], max_length=32)),
                ('occurred_at', models.DateTimeField(db_index=True)),
                ('source', models.CharField(choices=[('web', 'Web'), ('api', 'API'), ('slack', 'Slack'), ('alert', 'Alert'), ('system', 'System')], default='web', max_length=16)),
                ('text', models.TextField(blank=True, max_length=10000, validators=[common.validators.TextValidator(multi_line=True)])),
                ('edited_at', models.DateTimeField(blank=True, null=True)),
                ('struck_at', models.DateTimeField(blank=True, null=True)),
                ('struck_reason', models.CharField(blank=True, max_length=1000, validators=[common.validators.TextValidator()])),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
            ],
            options={
                'verbose_name': 'historical timeline event',
                'verbose_name_plural': 'historical timeline events',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.RemoveConstraint(
            model_name='incident',
            name='incident_closed_only_in_retrospect',
        ),
        migrations.AddField(
            model_name='decision',
            name='supersedes',
            field=models.OneToOneField(blank=True, help_text='The earlier decision this one replaces (kept, shown as superseded).', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='superseded_by', to='incidents.decision'),
        ),
        migrations.AddField(
            model_name='historicaldecision',
            name='supersedes',
            field=models.ForeignKey(blank=True, db_constraint=False, help_text='The earlier decision this one replaces (kept, shown as superseded).', null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='incidents.decision'),
        ),
        migrations.AddField(
            model_name='historicalincident',
            name='duplicate_of',
            field=models.ForeignKey(blank=True, db_constraint=False, help_text="The incident that tracks this one's work (outcome: duplicate).", null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='incidents.incident'),
        ),
        migrations.AddField(
            model_name='historicalincident',
            name='outcome',
            field=models.CharField(blank=True, choices=[('resolved', 'Resolved'), ('false_alarm', 'False alarm'), ('duplicate', 'Duplicate'), ('declined', 'Declined')], help_text='How it ended; set when it closes. Only resolved ones count in the metrics.', max_length=16),
        ),
        migrations.AddField(
            model_name='historicalincident',
            name='outcome_reason',
            field=models.TextField(blank=True, help_text='Said when closing.', max_length=10000, validators=[common.validators.TextValidator(multi_line=True)]),
        ),
        migrations.AddField(
            model_name='incident',
            name='duplicate_of',
            field=models.ForeignKey(blank=True, help_text="The incident that tracks this one's work (outcome: duplicate).", null=True, on_delete=django.db.models.deletion.PROTECT, related_name='duplicates', to='incidents.incident'),
        ),
        migrations.AddField(
            model_name='incident',
            name='outcome',
            field=models.CharField(blank=True, choices=[('resolved', 'Resolved'), ('false_alarm', 'False alarm'), ('duplicate', 'Duplicate'), ('declined', 'Declined')], help_text='How it ended; set when it closes. Only resolved ones count in the metrics.', max_length=16),
        ),
        migrations.AddField(
            model_name='incident',
            name='outcome_reason',
            field=models.TextField(blank=True, help_text='Said when closing.', max_length=10000, validators=[common.validators.TextValidator(multi_line=True)]),
        ),
        migrations.AddField(
            model_name='timelineevent',
            name='edited_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='timelineevent',
            name='edited_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='timelineevent',
            name='struck_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='timelineevent',
            name='struck_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='timelineevent',
            name='struck_reason',
            field=models.CharField(blank=True, max_length=1000, validators=[common.validators.TextValidator()]),
        ),
        migrations.AlterField(
            model_name='timelineevent',
            name='kind',
            field=models.CharField(choices=[('declared', 'Declared'), ('note', 'Note'), ('stage_moved', 'Stage moved'), ('stage_skipped', 'Stages skipped'), ('reopened', 'Reopened'), ('closed', 'Closed'), ('decision', 'Decision'), ('role_assigned', 'Role assigned'), ('fields_changed', 'Fields changed'), ('severity_changed', 'Severity changed'), ('status_update', 'Status update'), ('stage_time_corrected', 'Stage time corrected'), ('duplicate_linked', 'Duplicate linked')], max_length=32),
        ),
        migrations.AddField(
            model_name='historicaltimelineevent',
            name='actor',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='historicaltimelineevent',
            name='edited_by',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='historicaltimelineevent',
            name='history_user',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='historicaltimelineevent',
            name='incident',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='incidents.incident'),
        ),
        migrations.AddField(
            model_name='historicaltimelineevent',
            name='struck_by',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
    ]
