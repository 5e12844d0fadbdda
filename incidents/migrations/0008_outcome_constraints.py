"""The closing invariants of outcomes: resolved only from retrospect, an outcome exactly
when closed, a duplicate names the incident it duplicates (and not itself)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("incidents", "0007_closed_incidents_resolved_notes_history")]

    operations = [
        migrations.AddConstraint(
            model_name='incident',
            constraint=models.CheckConstraint(condition=models.Q(('closed_at__isnull', True), ('stage', 'retrospect'), models.Q(('outcome', 'resolved'), _negated=True), _connector='OR'), name='incident_resolved_only_in_retrospect'),
        ),
        migrations.AddConstraint(
            model_name='incident',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('closed_at__isnull', True), ('outcome', '')), models.Q(('closed_at__isnull', False), models.Q(('outcome', ''), _negated=True)), _connector='OR'), name='incident_outcome_set_when_closed'),
        ),
        migrations.AddConstraint(
            model_name='incident',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('duplicate_of__isnull', False), ('outcome', 'duplicate')), models.Q(models.Q(('outcome', 'duplicate'), _negated=True), ('duplicate_of__isnull', True)), _connector='OR'), name='incident_duplicate_of_only_for_duplicates'),
        ),
        migrations.AddConstraint(
            model_name='incident',
            constraint=models.CheckConstraint(condition=models.Q(('duplicate_of', models.F('pk')), _negated=True), name='incident_not_duplicate_of_itself'),
        ),
    ]
