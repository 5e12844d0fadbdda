"""Writes. Each function is one transaction that writes the state, its timeline
event and its history row (with the acting user), and defers side effects to
``transaction.on_commit``.

One module per concern; this package re-exports the public writes.
"""

from incidents.services.base import EDITABLE_FIELDS, SINGLE_ROLES, audit, require_driver, save
from incidents.services.closing import incident_close
from incidents.services.decisions import decision_record
from incidents.services.declare import incident_declare
from incidents.services.editing import incident_update
from incidents.services.moves import incident_move, incident_stage_time_correct
from incidents.services.notes import note_add, note_edit, note_strike
from incidents.services.roles import incident_assign_role, incident_remove_responder

__all__ = [
    "EDITABLE_FIELDS",
    "SINGLE_ROLES",
    "audit",
    "decision_record",
    "incident_assign_role",
    "incident_close",
    "incident_declare",
    "incident_move",
    "incident_remove_responder",
    "incident_stage_time_correct",
    "incident_update",
    "note_add",
    "note_edit",
    "note_strike",
    "require_driver",
    "save",
]
