"""Writes of the postmortems app, one module per concern: templates, starting a
postmortem (pre-filled from its incident), editing it, action items, the closing
rules and the reminders. Each function is one transaction that writes the state and
its history rows (naming the actor).

The review workflow (submit, approve, request changes, publish, retro) is in
``postmortems.review``; its functions are importable from here too, so callers keep
one entry point for the app's writes.
"""

from postmortems.review import (
    approvals_withdraw,
    pending_reviewers,
    postmortem_approve,
    postmortem_publish,
    postmortem_request_changes,
    postmortem_submit,
    retro_complete,
    submit_problems,
)
from postmortems.services.action_items import action_item_create, action_item_update
from postmortems.services.closing import action_items_blocker, has_published_postmortem
from postmortems.services.editing import postmortem_update, section_save
from postmortems.services.reminders import action_items_remind
from postmortems.services.start import postmortem_start
from postmortems.services.templates import (
    template_create,
    template_for,
    template_revise,
    template_save,
)
from postmortems.writes import VersionConflict, WrongStatus

__all__ = [
    "VersionConflict",
    "WrongStatus",
    "action_item_create",
    "action_item_update",
    "action_items_blocker",
    "action_items_remind",
    "approvals_withdraw",
    "has_published_postmortem",
    "pending_reviewers",
    "postmortem_approve",
    "postmortem_publish",
    "postmortem_request_changes",
    "postmortem_start",
    "postmortem_submit",
    "postmortem_update",
    "retro_complete",
    "section_save",
    "submit_problems",
    "template_create",
    "template_for",
    "template_revise",
    "template_save",
]
