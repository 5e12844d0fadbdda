"""Demo status page for ``make run``: component groups mapped to the demo services, a
public update on the demo SEV1 (through the outbox, like any public update), a
maintenance scheduled for tomorrow, and a first snapshot. Idempotent."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from incidents.models import Incident, Service
from notifications import services as notifications
from notifications.models import StatusUpdate
from statuspage.maintenance import maintenance_schedule
from statuspage.models import Component, ComponentGroup, ScheduledMaintenance
from statuspage.snapshot import snapshot_publish

GROUPS = [
    (
        "Payments",
        [
            ("checkout", "Checkout", "checkout-api"),
            ("payments", "Card payments", "payment-gateway"),
        ],
    ),
    ("Platform", [("api", "Public API", "postgres-primary"), ("web", "Website", "redis-cache")]),
    ("Messaging", [("email", "Email notifications", "notifications")]),
]
DEMO_TITLE = "Checkout returns 502 for a third of payments"
DEMO_MAINTENANCE = "Database upgrade"


class Command(BaseCommand):
    help = "Load demo status page components, one public incident update, and publish."

    @transaction.atomic
    def handle(self, *args, **options):
        services = {s.slug: s for s in Service.objects.all()}
        for position, (group_name, components) in enumerate(GROUPS):
            group, _ = ComponentGroup.objects.get_or_create(
                name=group_name, defaults={"position": position}
            )
            for order, (slug, name, service_slug) in enumerate(components):
                component, created = Component.objects.get_or_create(
                    slug=slug, defaults={"name": name, "group": group, "position": order}
                )
                if created and service_slug in services:
                    component.services.add(services[service_slug])
        incident = Incident.objects.filter(title=DEMO_TITLE, closed_at__isnull=True).first()
        already = StatusUpdate.objects.filter(incident=incident, audiences__slug="public")
        if incident is not None and not already.exists():
            notifications.update_post(
                incident=incident,
                actor=get_user_model().objects.get(username="oncall"),
                message="Some card payments fail at checkout. We have identified the cause "
                "and are rolling back a change.",
                audiences=["responders", "cs", "public"],
                public_status="identified",
                public_title="Card payments failing at checkout",
                components={"checkout": "partial_outage", "payments": "degraded_performance"},
            )
            self.stdout.write("Posted a public update; the worker publishes it to /status/.")
        if not ScheduledMaintenance.objects.filter(name=DEMO_MAINTENANCE).exists():
            tomorrow = timezone.now().replace(hour=2, minute=0, second=0, microsecond=0)
            tomorrow += timedelta(days=1)
            maintenance_schedule(
                name=DEMO_MAINTENANCE,
                scheduled_for=tomorrow,
                scheduled_until=tomorrow + timedelta(hours=1),
                components=list(Component.objects.filter(slug__in=["api", "web"])),
                body="We upgrade the primary database. The API and the website may answer "
                "slowly for up to a minute while it fails over; no data is lost.",
                actor=get_user_model().objects.get(username="oncall"),
            )
            self.stdout.write("Scheduled a maintenance for tomorrow (see /maintenance/).")
        transaction.on_commit(snapshot_publish)
