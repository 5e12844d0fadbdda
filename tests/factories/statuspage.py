import factory
from django.utils import timezone

from statuspage.models import Component, ComponentGroup, ScheduledMaintenance


class ComponentGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ComponentGroup

    name = factory.Sequence(lambda n: f"Group {n}")


class ComponentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Component
        django_get_or_create = ("slug",)
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"component-{n}")
    name = factory.LazyAttribute(lambda c: c.slug.replace("-", " ").title())
    description = "A part of the product customers use."


class ScheduledMaintenanceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScheduledMaintenance
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Database upgrade {n}")
    scheduled_for = factory.LazyFunction(lambda: timezone.now() + timezone.timedelta(hours=2))
    scheduled_until = factory.LazyAttribute(lambda m: m.scheduled_for + timezone.timedelta(hours=1))
