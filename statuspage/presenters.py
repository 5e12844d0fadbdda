"""What the subscription pages say, worked out from what the subscription services
returned: the heading, the lines and the extras of ``statuspage/message.html``. The
views call these and render; no writes here."""

from statuspage import selectors, subscriptions
from statuspage.subscriber_models import Subscriber


def subscribe_answer(outcome: subscriptions.Subscription) -> dict:
    """The page after the subscribe form: what the visitor is to do next."""
    subscriber = outcome.subscriber
    if subscriber.kind != Subscriber.Kind.WEBHOOK:
        # The same words whatever happened: the page must not tell a stranger whether
        # an address is already subscribed.
        return {
            "heading": "Check your inbox",
            "lines": [
                "We sent a message to that address (a confirmation link, or a link to manage "
                "an existing subscription). Nothing else is sent until it is used."
            ],
        }
    if outcome.sent != "challenge":
        return {
            "heading": "Already subscribed",
            "lines": [
                f"{subscriber.endpoint} already receives our updates; nothing was changed.",
                "To change it, use the meta.manage link in any payload we sent it.",
            ],
        }
    return {
        "heading": "Verify your endpoint",
        "lines": [
            f"We will POST a signed endpoint.verification event to {subscriber.endpoint}. "
            "Answer it with a 2xx whose body is its challenge (or "
            '{"challenge": "<challenge>"}); nothing else is sent until then.',
            "Verify the webhook-signature header with this secret. Every payload's "
            "meta.unsubscribe is a one-click unsubscribe URL.",
        ],
        "secret": outcome.secret,
    }


def subscription_manage(subscriber: Subscriber, *, action: str) -> dict:
    """The manage page: every component, the subscriber's ticked, posted to ``action``."""
    chosen = set(subscriber.components.values_list("public_id", flat=True))
    return {
        "heading": "Manage your subscription",
        "lines": [f"Messages go to {subscriber}. Tick none to hear about every component."],
        "action": action,
        "button": "Save",
        "choices": [
            {"id": c.public_id, "name": c.name, "checked": c.public_id in chosen}
            for c in selectors.components_all()
        ],
        "unsubscribe": "/status/subscriptions/unsubscribe/"
        f"{subscriptions.token_for(subscriber, 'unsubscribe')}/",
    }
