"""The one retry policy: how many attempts a job gets and how long it waits between
them. Every leased job of Keel (team deliveries, subscriber notifications, Slack
requests, Slack channel set-up) asks its policy instead of doing its own arithmetic."""

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, honouring the far side's ``Retry-After``."""

    max_attempts: int
    base_seconds: float = 2.0
    cap_seconds: float = 300.0

    def backoff(self, attempt: int, *, rng: random.Random | None = None) -> float:
        """Uniform in [base/2, min(cap, base * 2^(attempt-1))]: retries of many jobs
        that failed together spread out instead of arriving together again."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(attempt - 1, 0))
        return (rng or random).uniform(self.base_seconds / 2, ceiling)

    def wait(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before attempt ``attempt + 1``: the backoff, or longer when asked."""
        return max(retry_after or 0.0, self.backoff(attempt))

    def exhausted(self, attempts: int) -> bool:
        """True once ``attempts`` attempts were made: no more retries."""
        return attempts >= self.max_attempts


# Deliveries of both producers (team destinations, status page subscribers).
OUTBOX = RetryPolicy(max_attempts=8)
# Slack side jobs (a slash command's answer, an incident channel's set-up): a person
# is waiting for them, so they give up sooner and say so.
SLACK_JOBS = RetryPolicy(max_attempts=5)
