"""What the postmortem pages show, worked out from what the selectors loaded: the
printable document, the action items page and an action item's evidence. Views call
these and render; no writes here."""

from django.utils import timezone

from common.roles import can_drive_incidents
from postmortems import evidence, list_html, selectors
from postmortems.models import ActionItem, Postmortem
from postmortems.section_view import SectionView, chart_window

ACTION_ITEMS_PAGE_SIZE = 50


def print_context(postmortem: Postmortem) -> dict:
    """The whole document read-only, with its reviews and when it was printed."""
    window = chart_window(postmortem)
    return {
        "postmortem": postmortem,
        "incident": postmortem.incident,
        "sections": [
            SectionView(s, postmortem, editable=False, window=window)
            for s in postmortem.sections.all()
        ],
        "reviews": list(postmortem.reviews.all()),
        "printed_at": timezone.now(),
    }


def action_items_context(*, user, form, page: str | None) -> dict:
    """The action items the reader may see, filtered by ``form`` (all when it is
    invalid), one numbered page of them, and completion by team."""
    filters = form.cleaned_data if form.is_valid() else {}
    queryset = selectors.action_items_list(user=user, filters=filters)
    completion = selectors.completion_by_team(user=user)
    # Due date first (nullable, so no keyset): numbered pages with the capped count;
    # unfiltered, the count is completion's, which read every item the reader may see.
    found = selectors.action_item_list_page(
        queryset,
        size=ACTION_ITEMS_PAGE_SIZE,
        page=page,
        clamp_pages=True,
        count=None if any(filters.values()) else completion.items,
    )
    today = timezone.localdate()
    return {
        "form": form,
        "page": found,
        "rows": list_html.action_item_rows(found.rows, today=today),
        "today": today,
        "completion": completion,
    }


def evidence_context(item: ActionItem, *, user) -> dict:
    """An action item's evidence: its link (or None), its tracker and whether ``user``
    may link a metric to it."""
    return {
        "item": item,
        "link": evidence.link_of(item),
        "tracker": evidence.tracker_of(item.tracker_url),
        "can_link": can_drive_incidents(user) and item.verifiable_by_metric,
    }
