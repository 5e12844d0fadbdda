import factory

from notifications.models import Audience, Destination


def audience(slug: str) -> Audience:
    """The four audiences come from a data migration; fetch them by slug."""
    return Audience.objects.get(slug=slug)


class DestinationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Destination

    audience = factory.LazyFunction(lambda: audience("responders"))
    kind = Destination.Kind.SLACK
    name = factory.Sequence(lambda n: f"destination {n}")
    target = "C0INCIDENTS"
    secret = factory.LazyFunction(Destination.new_secret)


class NotificationPreferenceFactory(factory.django.DjangoModelFactory):
    """A person's chosen channel for one kind of personal notice."""

    class Meta:
        model = "notifications.NotificationPreference"
        django_get_or_create = ("user", "kind")

    kind = "action_item_assigned"
    channel = "slack_dm"
