"""Demo data for ``make run``: teams, services, a user per role, incidents in
several stages. Idempotent: running it twice changes nothing the second time."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from common import roles
from incidents import services
from incidents.lifecycle import Stage
from incidents.models import Change, Incident, Service, Severity, Team

DEMO_USERS = [
    # username, password, role group, full name
    ("admin", "keel-admin", roles.ADMINS, ("Ada", "Admin")),
    ("oncall", "keel-oncall", roles.RESPONDERS, ("Rita", "Responder")),
    ("sre", "keel-sre", roles.RESPONDERS, ("Sam", "Engineer")),
    ("support", "keel-support", roles.VIEWERS, ("Cory", "Support")),
]

TEAMS = [("Payments", "payments"), ("Platform", "platform"), ("Growth", "growth")]

SERVICES = [
    ("Checkout API", "checkout-api", "payments", Service.Tier.CRITICAL),
    ("Payment gateway", "payment-gateway", "payments", Service.Tier.CRITICAL),
    ("PostgreSQL primary", "postgres-primary", "platform", Service.Tier.CRITICAL),
    ("Redis cache", "redis-cache", "platform", Service.Tier.IMPORTANT),
    ("Notifications", "notifications", "growth", Service.Tier.SUPPORTING),
]


class Command(BaseCommand):
    help = "Load demo teams, services, users (one per role) and incidents in different stages."

    @transaction.atomic
    def handle(self, *args, **options):
        users = self._users()
        teams = {
            slug: Team.objects.get_or_create(slug=slug, defaults={"name": name})[0]
            for name, slug in TEAMS
        }
        for name, slug, team_slug, tier in SERVICES:
            Service.objects.get_or_create(
                slug=slug, defaults={"name": name, "owner_team": teams[team_slug], "tier": tier}
            )
        self._destinations()
        if Incident.objects.exists():
            self.stdout.write("Demo incidents already present; left as they are.")
        else:
            self._incidents(users)
            self.stdout.write(f"Loaded {Incident.objects.count()} demo incidents.")
        for username, password, group, _ in DEMO_USERS:
            self.stdout.write(f"  {username:<8} / {password:<13} ({group})")

    def _destinations(self) -> None:
        """Who hears what (the default routes, README "Default routes") and where the
        audiences hear: Slack for responders (paused, and shown so, until
        SLACK_BOT_TOKEN is set), email lists for CS and business (the file backend in
        the embedded default writes them to data/outbox-mail)."""
        from django.conf import settings

        # the demo seeds every app
        from notifications.services import destination_create, routes_default_ensure

        routes_default_ensure()
        destination_create(
            audience_slug="responders",
            kind="slack",
            name="Slack #incidents",
            target=settings.SLACK_INCIDENTS_CHANNEL,
        )
        destination_create(
            audience_slug="cs", kind="email", name="CS list", target="cs-team@keel.test"
        )
        destination_create(
            audience_slug="business",
            kind="email",
            name="Business list",
            target="business-team@keel.test",
        )

    def _users(self) -> dict:
        User = get_user_model()
        users = {}
        for username, password, group_name, (first, last) in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"first_name": first, "last_name": last, "email": f"{username}@keel.test"},
            )
            if created:
                user.set_password(password)
                user.is_staff = group_name == roles.ADMINS
                user.is_superuser = group_name == roles.ADMINS
                user.save()
            user.groups.add(Group.objects.get_or_create(name=group_name)[0])
            users[username] = user
        return users

    def _incidents(self, users: dict) -> None:
        now = timezone.now()
        oncall, sre = users["oncall"], users["sre"]
        sev = {s.code: s for s in Severity.objects.all()}
        svc = {s.slug: s for s in Service.objects.all()}

        deploy = Change.objects.create(
            title="checkout-api v2.41.0",
            service=svc["checkout-api"],
            reference="v2.41.0",
            deployed_at=now - timedelta(minutes=55),
            deployed_by="ci",
        )
        checkout = services.incident_declare(
            title="Checkout returns 502 for a third of payments",
            summary="Payment confirmations time out after the v2.41.0 deploy; the gateway "
            "connection pool is exhausted.",
            severity=sev["SEV1"],
            services=[svc["checkout-api"], svc["payment-gateway"]],
            started_at=now - timedelta(minutes=50),
            detected_at=now - timedelta(minutes=44),
            detection_source="monitoring",
            actor=oncall,
        )
        services.incident_update(
            incident=checkout,
            actor=oncall,
            data={
                "preceding_change": deploy,
                "affected_users_percent": 33,
                "failure_patterns": ["change", "cascading"],
                "category": "technical.software",
                "detected_before_customers": True,
            },
        )
        services.incident_assign_role(incident=checkout, role="responder", user=sre, actor=oncall)
        services.incident_move(
            incident=checkout,
            to=Stage.PROPAGATE,
            actor=oncall,
            note="CS and business team told in #incidents.",
        )
        services.incident_move(incident=checkout, to=Stage.JUDGE, actor=oncall)
        services.decision_record(
            incident=checkout,
            options=["Roll back to v2.40.3", "Fix forward: raise pool size", "Wait"],
            chosen="Roll back to v2.40.3",
            rationale="v2.40.3 ran clean for a week; the fix forward is untested under load.",
            information="Error rate 31% and climbing; pool saturation since 14:02.",
            actor=oncall,
        )

        cache = services.incident_declare(
            title="Cache hit rate dropped to 40%",
            summary="Redis evictions after a key-size change; latency up on product pages.",
            severity=sev["SEV3"],
            services=[svc["redis-cache"]],
            started_at=now - timedelta(hours=5, minutes=30),
            detected_at=now - timedelta(hours=5),
            detection_source="internal",
            actor=sre,
        )
        for stage in (Stage.PROPAGATE, Stage.JUDGE, Stage.RECOVER):
            services.incident_move(incident=cache, to=stage, actor=sre)
        services.note_add(
            incident=cache, text="Evictions back to baseline after TTL fix.", actor=sre
        )

        mail = services.incident_declare(
            title="Password reset emails delayed",
            summary="Customers reported reset emails arriving 20 minutes late.",
            severity=sev["SEV4"],
            services=[svc["notifications"]],
            started_at=now - timedelta(days=2, hours=1),
            detected_at=now - timedelta(days=2),
            detection_source="customer_report",
            actor=sre,
        )
        for stage in Stage.values[1:]:
            services.incident_move(incident=mail, to=stage, actor=sre)
        services.incident_close(incident=mail, actor=sre, note="Queue worker autoscaling fixed.")

        flap = services.incident_declare(
            title="Checkout synthetic probe failing in eu-west",
            severity=sev["SEV3"],
            services=[svc["checkout-api"]],
            detected_at=now - timedelta(days=1),
            detection_source="monitoring",
            actor=oncall,
        )
        services.incident_close(
            incident=flap,
            actor=oncall,
            outcome="false_alarm",
            note="The probe's DNS resolver timed out; real checkout traffic was healthy.",
        )

        services.incident_declare(
            title="Suspicious admin logins from an unknown ASN",
            summary="Security review in progress; restricted to participants.",
            severity=sev["SEV2"],
            services=[svc["postgres-primary"]],
            detection_source="monitoring",
            private=True,
            actor=oncall,
        )
