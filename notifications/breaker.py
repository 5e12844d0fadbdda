"""The circuit breaker of the delivery engine: one per remote end (a destination,
the mail server, a webhook subscriber), its state in the database so every worker
process shares it. Five transient failures in a row open it for 30 s; then one
caller probes (half-open) while the others keep waiting."""

import logging
from datetime import timedelta

from django.utils import timezone

from notifications.models import CircuitBreaker

logger = logging.getLogger(__name__)

BREAKER_THRESHOLD = 5
BREAKER_COOLDOWN = timedelta(seconds=30)


def breaker_open_until(key: str):
    """When the breaker ``key`` closes again, or None when it is closed."""
    breaker = CircuitBreaker.objects.filter(key=key).first()
    if breaker and breaker.opened_until and breaker.opened_until > timezone.now():
        return breaker.opened_until
    return None


def record(key: str, *, success: bool, error: str = "") -> None:
    if success:
        # One UPDATE that matches only a breaker not already closed: the common case
        # (no row, or a clean one) writes nothing and takes no lock.
        CircuitBreaker.objects.filter(key=key).exclude(
            consecutive_failures=0, opened_until=None, last_failure=""
        ).update(
            consecutive_failures=0, opened_until=None, last_failure="", updated_at=timezone.now()
        )
        return
    breaker, _ = CircuitBreaker.objects.select_for_update().get_or_create(key=key)
    breaker.consecutive_failures += 1
    breaker.last_failure = error[:1000]
    if breaker.consecutive_failures >= BREAKER_THRESHOLD:
        breaker.opened_until = timezone.now() + BREAKER_COOLDOWN
        logger.warning(
            "circuit %s open after %s failures: %s", key, breaker.consecutive_failures, error
        )
    breaker.save()


def half_open_probe(key: str) -> bool:
    """After the cooldown one caller probes; others wait for another cooldown."""
    breakers = CircuitBreaker.objects.filter(key=key)
    # A closed breaker needs no lock; only a tripped one is locked, so that exactly
    # one caller wins the half-open probe.
    if not breakers.filter(consecutive_failures__gte=BREAKER_THRESHOLD).exists():
        return True
    breaker = breakers.select_for_update().first()
    if breaker is None or breaker.consecutive_failures < BREAKER_THRESHOLD:
        return True
    now = timezone.now()
    if breaker.opened_until and breaker.opened_until > now:
        return False
    breaker.opened_until = now + BREAKER_COOLDOWN
    breaker.save(update_fields=["opened_until", "updated_at"])
    return True


def dirty_breakers() -> set[str]:
    return set(
        CircuitBreaker.objects.exclude(
            consecutive_failures=0, opened_until=None, last_failure=""
        ).values_list("key", flat=True)
    )
