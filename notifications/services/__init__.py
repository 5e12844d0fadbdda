"""Writes of the notifications app: status updates and their outbox rows.

One transaction writes the StatusUpdate, its timeline event and one Delivery
per (update, destination); the send tasks are enqueued on commit. The request
never waits on Slack, SMTP or a webhook receiver.

One module per concern; this package re-exports the writes other apps call.
"""

from notifications.notices import (
    action_item_assigned_notify,
    action_item_due_notify,
    role_assigned_notify,
    update_due_notify,
)
from notifications.services.heartbeat import HEARTBEAT_FORGET_AFTER, worker_heartbeat_record
from notifications.services.reminders import cadence_remind
from notifications.services.replay import NeverDeliverable, delivery_replay
from notifications.services.routing import (
    BUSINESS_AUDIENCE,
    PUBLIC_AUDIENCE,
    audiences_matching,
    audiences_permitted,
    audiences_routed,
    chosen_audiences,
)
from notifications.services.setup import channel_resume, destination_create, routes_default_ensure
from notifications.services.updates import (
    PUBLIC_CLOSING_MESSAGES,
    public_incident_resolve,
    send_messages,
    update_check,
    update_post,
    update_preview,
    updates_fan_out,
)

__all__ = [
    "BUSINESS_AUDIENCE",
    "HEARTBEAT_FORGET_AFTER",
    "PUBLIC_AUDIENCE",
    "PUBLIC_CLOSING_MESSAGES",
    "NeverDeliverable",
    "action_item_assigned_notify",
    "action_item_due_notify",
    "audiences_matching",
    "audiences_permitted",
    "audiences_routed",
    "cadence_remind",
    "channel_resume",
    "chosen_audiences",
    "delivery_replay",
    "destination_create",
    "public_incident_resolve",
    "role_assigned_notify",
    "routes_default_ensure",
    "send_messages",
    "update_check",
    "update_due_notify",
    "update_post",
    "update_preview",
    "updates_fan_out",
    "worker_heartbeat_record",
]
