"""What every channel adapter returns: a typed outcome, never an exception."""

from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings

AMBIGUOUS_SETTLE_FACTOR = 5


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"  # transient: timeout, 5xx, rate limit
    GONE = "gone"  # this destination no longer exists: disable it
    CREDENTIALS = "credentials"  # the channel's credentials are broken: pause the channel
    PERMANENT = "permanent"  # this message can never be delivered


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    external_id: str = ""
    retry_after: float | None = None
    error: str = ""

    @classmethod
    def sent(cls, external_id: str = "") -> "SendResult":
        return cls(Outcome.SENT, external_id=external_id)

    @classmethod
    def retry(cls, error: str, retry_after: float | None = None) -> "SendResult":
        return cls(Outcome.RETRY, retry_after=retry_after, error=error)

    @classmethod
    def ambiguous(cls, error: str) -> "SendResult":
        """No answer (timeout, dropped connection): the far side may still act on the
        request. Wait long enough for it to settle so the retry's reconcile sees it."""
        settle = AMBIGUOUS_SETTLE_FACTOR * settings.KEEL_OUTBOUND_TIMEOUT_SECONDS
        return cls(Outcome.RETRY, retry_after=settle, error=error)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds only; dates are rare here)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
