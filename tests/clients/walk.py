"""An integrator's script, written against the Python client that openapi-python-client
generates from Keel's /api/schema/ (package ``keel_client`` on PYTHONPATH).

    KEEL_URL=http://127.0.0.1:19580 KEEL_TOKEN=<responder> KEEL_REVIEWER_TOKEN=<other> \
        KEEL_REVIEWER=bob python tests/clients/walk.py

It declares incidents, walks one through the seven stages (posting updates,
recording a decision, writing, reviewing and publishing its postmortem), closes it,
lists every paginated collection to its end by following ``next``, and meets a 409
(an illegal stage move, a refused close) and a 422 (a reused Idempotency-Key with
another body) as typed ``Error`` bodies. The client is built with
``raise_on_unexpected_status``: any status the schema does not document raises.
Prints one JSON summary line; exits non-zero on the first surprise.
"""

import json
import os
import sys
import uuid
from urllib.parse import parse_qs, urlsplit

from keel_client import AuthenticatedClient
from keel_client.api.v1 import (
    v1_action_items_list,
    v1_action_items_partial_update,
    v1_incidents_close_create,
    v1_incidents_create,
    v1_incidents_decisions_create,
    v1_incidents_list,
    v1_incidents_stage_create,
    v1_incidents_timeline_create,
    v1_incidents_timeline_list,
    v1_incidents_updates_create,
    v1_postmortems_approve_create,
    v1_postmortems_create,
    v1_postmortems_list,
    v1_postmortems_partial_update,
    v1_postmortems_publish_create,
    v1_postmortems_retro_complete_create,
    v1_postmortems_submit_create,
)
from keel_client.models import (
    ActionItemStatusEnum,
    CloseInputRequest,
    CommentInputRequest,
    DecisionInputRequest,
    DecisionOutput,
    Error,
    IncidentDeclareInputRequest,
    IncidentOutput,
    NoteInputRequest,
    PatchedActionItemUpdateInputRequest,
    PatchedPostmortemUpdateInputRequest,
    PostmortemCreateInputRequest,
    PostmortemOutput,
    PostmortemStatusEnum,
    PublicStatusEnum,
    PublishInputRequest,
    StageEnum,
    StageMoveInputRequest,
    SubmitInputRequest,
    UpdateInputRequest,
    UpdateOutput,
)
from keel_client.types import UNSET

PAGE_SIZE = 2


class WalkFailed(AssertionError):
    pass


def expect(response, status: int, kind: type):
    """The response's typed body, after checking its status and its type."""
    if response.status_code != status or not isinstance(response.parsed, kind):
        raise WalkFailed(
            f"expected {status} {kind.__name__}, got {response.status_code} "
            f"{type(response.parsed).__name__}: {response.content[:400]!r}"
        )
    return response.parsed


def walk_pages(list_call, **kwargs) -> tuple[int, list]:
    """Every item of a paginated collection: page 1, then each ``next`` to the end."""
    page, items, count, pages = 1, [], None, 0
    while page is not None:
        body = list_call.sync(page=page, page_size=PAGE_SIZE, **kwargs)
        if isinstance(body, Error) or body is None:
            raise WalkFailed(f"{list_call.__name__} page {page}: {body}")
        pages += 1
        count = body.count
        items.extend(body.results)
        next_url = body.next_
        page = int(parse_qs(urlsplit(next_url).query)["page"][0]) if next_url else None
        if pages > 1_000:
            raise WalkFailed(f"{list_call.__name__}: next never ends")
    if len(items) != count or len({item.id for item in items}) != count:
        raise WalkFailed(f"{list_call.__name__}: {len(items)} items walked, count says {count}")
    return pages, items


def declare(client, title: str, key: str | None = None):
    body = IncidentDeclareInputRequest(
        title=title, summary="Payments fail for a third of requests.", severity="SEV2"
    )
    return v1_incidents_create.sync_detailed(client=client, body=body, idempotency_key=key or UNSET)


def move(client, incident_id: int, stage: StageEnum, key: str | None = None):
    body = StageMoveInputRequest(stage=stage, note=f"API walk: to {stage.value}")
    return v1_incidents_stage_create.sync_detailed(
        incident_id, client=client, body=body, idempotency_key=key or UNSET
    )


def post_update(client, incident_id: int, message: str, audiences: list[str], public=None):
    body = UpdateInputRequest(message=message, audiences=audiences)
    if public is not None:
        body.public_status, body.public_title = public, "Checkout errors"
    update = v1_incidents_updates_create.sync_detailed(incident_id, client=client, body=body)
    return expect(update, 201, UpdateOutput)


def main() -> dict:
    base_url, reviewer = os.environ["KEEL_URL"], os.environ["KEEL_REVIEWER"]

    def client_for(token: str) -> AuthenticatedClient:
        return AuthenticatedClient(
            base_url=base_url, token=token, raise_on_unexpected_status=True, timeout=30.0
        )

    author, second = (
        client_for(os.environ["KEEL_TOKEN"]),
        client_for(os.environ["KEEL_REVIEWER_TOKEN"]),
    )
    summary: dict = {"typed_errors": {}}
    key = f"walk-declare-{uuid.uuid4()}"

    # Declare, with an Idempotency-Key: the same body replays, another body is a 422.
    incident = expect(declare(author, "Checkout 502s", key=key), 201, IncidentOutput)
    replay = expect(declare(author, "Checkout 502s", key=key), 201, IncidentOutput)
    if replay.id != incident.id:
        raise WalkFailed("the replayed declare created another incident")
    reused = expect(declare(author, "Another title", key=key), 422, Error)
    summary["typed_errors"]["422"] = reused.code
    for n in range(2):
        expect(declare(author, f"Background incident {n}"), 201, IncidentOutput)

    # detect → propagate: tell responders and CS, and the public.
    expect(move(author, incident.id, StageEnum.PROPAGATE), 200, IncidentOutput)
    post_update(author, incident.id, "Investigating checkout 502s.", ["responders", "cs"])
    post_update(
        author,
        incident.id,
        "Some checkouts fail; we are investigating.",
        ["public"],
        public=PublicStatusEnum.INVESTIGATING,
    )

    # judge: a decision; moving back to detect is illegal (409, typed).
    expect(move(author, incident.id, StageEnum.JUDGE), 200, IncidentOutput)
    decision = DecisionInputRequest(
        options=["Roll back the deploy", "Fix forward"],
        chosen="Roll back the deploy",
        rationale="The errors began with the deploy; a rollback takes four minutes.",
    )
    expect(
        v1_incidents_decisions_create.sync_detailed(incident.id, client=author, body=decision),
        201,
        DecisionOutput,
    )
    illegal = expect(move(author, incident.id, StageEnum.DETECT), 409, Error)
    summary["typed_errors"]["409"] = illegal.code

    # recover → analyze; closing now is refused with the blockers (409, typed).
    expect(move(author, incident.id, StageEnum.RECOVER), 200, IncidentOutput)
    post_update(author, incident.id, "Rolled back; error rate is normal.", ["responders", "cs"])
    refused = v1_incidents_close_create.sync_detailed(
        incident.id, client=author, body=CloseInputRequest()
    )
    summary["close_blockers"] = list(expect(refused, 409, Error).blockers)
    expect(move(author, incident.id, StageEnum.ANALYZE), 200, IncidentOutput)
    for n in range(3):
        note = NoteInputRequest(text=f"Analysis note {n}")
        v1_incidents_timeline_create.sync_detailed(incident.id, client=author, body=note)

    # The postmortem: written, submitted, approved by another responder, published
    # (share), the retro held (retrospect).
    start = PostmortemCreateInputRequest(incident=incident.id)
    postmortem = expect(
        v1_postmortems_create.sync_detailed(client=author, body=start), 201, PostmortemOutput
    )
    sections = PatchedPostmortemUpdateInputRequest.from_dict(
        {
            "version": postmortem.version,
            "sections": {
                "summary": {"text": "A deploy made checkout return 502 for 38 minutes."},
                "root_cause": {
                    "text": "The new build had a too small connection pool.",
                    "contributing_factors": ["No load test"],
                    "failure_patterns": ["capacity"],
                    "five_whys": [],
                },
                "remediations": {
                    "rows": [
                        {
                            "title": "Roll back",
                            "description": "",
                            "pros": "fast",
                            "cons": "",
                            "chosen": True,
                            "reason": "Known good build.",
                        }
                    ]
                },
                "action_items": {
                    "rows": [
                        {
                            "title": "Load test every build",
                            "term": "short",
                            "kind": "prevent",
                            "owner": reviewer,
                            "due_date": "2030-01-01",
                            "priority": "P2",
                            "status": "open",
                            "tracker_url": "",
                        }
                    ]
                },
            },
        }
    )
    postmortem = expect(
        v1_postmortems_partial_update.sync_detailed(postmortem.id, client=author, body=sections),
        200,
        PostmortemOutput,
    )
    submit = SubmitInputRequest(reviewers=[reviewer])
    expect(
        v1_postmortems_submit_create.sync_detailed(postmortem.id, client=author, body=submit),
        200,
        PostmortemOutput,
    )
    approve = CommentInputRequest(comment="Clear and complete.")
    expect(
        v1_postmortems_approve_create.sync_detailed(postmortem.id, client=second, body=approve),
        200,
        PostmortemOutput,
    )
    publish = PublishInputRequest(public_summary="Some checkouts failed for 38 minutes.")
    published = expect(
        v1_postmortems_publish_create.sync_detailed(postmortem.id, client=author, body=publish),
        200,
        PostmortemOutput,
    )
    if published.status != PostmortemStatusEnum.PUBLISHED or published.incident_stage != "share":
        raise WalkFailed(f"publish left {published.status} / {published.incident_stage}")
    retro = expect(
        v1_postmortems_retro_complete_create.sync_detailed(postmortem.id, client=author),
        200,
        PostmortemOutput,
    )
    if retro.incident_stage != "retrospect":
        raise WalkFailed(f"retro complete left the incident in {retro.incident_stage}")

    # The action items are done: the incident closes.
    _, items = walk_pages(v1_action_items_list, client=author)
    for item in items:
        done = PatchedActionItemUpdateInputRequest(status=ActionItemStatusEnum.DONE)
        v1_action_items_partial_update.sync_detailed(item.id, client=author, body=done)
    closed = expect(
        v1_incidents_close_create.sync_detailed(
            incident.id, client=author, body=CloseInputRequest(note="Closed by the API walk.")
        ),
        200,
        IncidentOutput,
    )
    summary["closed_at"] = closed.closed_at.isoformat() if closed.closed_at else None

    # Every paginated collection, to its end.
    walked = {
        "incidents": walk_pages(v1_incidents_list, client=author),
        "timeline": walk_pages(_timeline(incident.id), client=author),
        "postmortems": walk_pages(v1_postmortems_list, client=author),
        "action_items": walk_pages(v1_action_items_list, client=author),
    }
    summary["collections"] = {
        name: {"pages": pages, "items": len(items)} for name, (pages, items) in walked.items()
    }
    summary["incident"] = incident.id
    summary["postmortem"] = postmortem.id
    return summary


def _timeline(incident_id: int):
    """``v1_incidents_timeline_list`` bound to one incident, shaped like the others."""

    class Timeline:
        __name__ = "v1_incidents_timeline_list"

        @staticmethod
        def sync(**kwargs):
            return v1_incidents_timeline_list.sync(incident_id, **kwargs)

    return Timeline


if __name__ == "__main__":
    try:
        print(json.dumps(main()))
    except WalkFailed as exc:
        print(f"walk failed: {exc}", file=sys.stderr)
        sys.exit(1)
