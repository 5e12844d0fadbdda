"""Settings → Status page: components and groups (add, edit, order, map services,
remove or the reason not to), the page's name, logo and time zone; each change is
audited and republishes the snapshot through ``statuspage.services.snapshot_request``."""

import json
import re
import struct
import zlib

import pytest
from django.urls import reverse

from statuspage import snapshot
from statuspage.models import Component, ComponentGroup
from statuspage.page_settings import LOGO_MAX_BYTES, PageSettings
from statuspage.tasks import statuspage_publish_snapshot_task
from tests.factories.incidents import ServiceFactory, UserFactory
from tests.factories.statuspage import (
    ComponentFactory,
    ComponentGroupFactory,
    ScheduledMaintenanceFactory,
)

pytestmark = pytest.mark.django_db
PAGE = "/settings/status-page/"


def tiny_png() -> bytes:
    """A valid 1x1 PNG, built by hand (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@pytest.fixture
def published(monkeypatch):
    """Snapshot requests are recorded when enqueued (no broker in these tests);
    ``publish()`` then runs the real task with what was requested."""
    requested = []
    monkeypatch.setattr(
        statuspage_publish_snapshot_task,
        "apply_async",
        lambda args=(), **kwargs: requested.append(tuple(args)),
    )

    def publish() -> dict[str, bytes]:
        assert requested, "no snapshot was requested"
        latest = requested[-1]
        requested.clear()
        statuspage_publish_snapshot_task.run(*latest)
        release = snapshot.current_release()
        return {
            path: (release / path).read_bytes()
            for path in ("status/index.html", "api/v2/summary.json")
        } | {"_release": str(release).encode()}

    publish.requested = requested
    return publish


def _order(group=None) -> list[str]:
    return list(
        Component.objects.filter(group=group)
        .order_by("position", "name")
        .values_list("name", flat=True)
    )


def test_adding_a_component_with_a_mapped_service_republishes_the_page(
    admin_client, admin_user, published, django_capture_on_commit_callbacks
):
    checkout = ServiceFactory(name="Checkout API", slug="checkout-api")
    group = ComponentGroupFactory(name="Payments")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("settings-component-add"),
            {
                "component-name": "Card payments",
                "component-description": "Paying by card at checkout.",
                "component-group": group.pk,
                "component-services": [checkout.pk],
            },
        )
    assert response.status_code == 302
    component = Component.objects.get(name="Card payments")
    assert component.slug == "card-payments" and component.group == group
    assert list(component.services.all()) == [checkout]
    assert component.history.first().history_user == admin_user
    assert component.status_changes.count() == 1  # the uptime log starts now
    files = published()
    assert b"Card payments" in files["status/index.html"]
    summary = json.loads(files["api/v2/summary.json"])
    assert [c["name"] for c in summary["components"] if not c["group"]] == ["Card payments"]

    page = admin_client.get(PAGE).content.decode()
    assert 'data-service="checkout-api"' in page


def test_editing_renaming_and_regrouping(
    admin_client, published, django_capture_on_commit_callbacks
):
    first, second = ComponentGroupFactory(name="Web"), ComponentGroupFactory(name="Mobile")
    ComponentFactory(name="Existing", group=second, position=4)
    component = ComponentFactory(name="Login", group=first)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("settings-component-edit", args=[component.pk]),
            {"name": "Sign in", "description": "Logging in.", "group": second.pk},
        )
    assert response.status_code == 302
    component.refresh_from_db()
    assert (component.name, component.group, component.position) == ("Sign in", second, 5)
    assert component.history.first().history_change_reason == "edited in settings"
    assert b"Sign in" in published()["status/index.html"]


def test_up_and_down_reorder_within_the_group(
    admin_client, published, django_capture_on_commit_callbacks
):
    group = ComponentGroupFactory(name="Platform")
    a, _, c = (ComponentFactory(name=n, group=group, position=0) for n in ("A", "B", "C"))
    url = reverse("settings-component-move", args=[c.pk])
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url, {"direction": "up"})
    assert _order(group) == ["A", "C", "B"]
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url, {"direction": "up"})
    assert _order(group) == ["C", "A", "B"]
    assert len(published.requested) == 2
    index = published()["status/index.html"].decode()
    assert index.index(">C<") < index.index(">A<") < index.index(">B<")
    # At the top already: nothing moves, nothing is republished.
    admin_client.post(url, {"direction": "up"})
    assert _order(group) == ["C", "A", "B"] and not published.requested
    # HTMX swaps only the list: the redirect's page carries it.
    swapped = admin_client.post(
        reverse("settings-component-move", args=[a.pk]),
        {"direction": "down"},
        HTTP_HX_REQUEST="true",
        follow=True,
    )
    assert 'id="components"' in swapped.content.decode()
    assert _order(group) == ["C", "B", "A"]
    bad = admin_client.post(url, {"direction": "sideways"}, follow=True)
    assert "Move up or down." in bad.content.decode()


def test_groups_are_ordered_and_removed_only_when_empty(admin_client):
    web, api = (
        ComponentGroupFactory(name="Web", position=0),
        ComponentGroupFactory(name="API", position=1),
    )
    ComponentFactory(name="Login", group=web)
    admin_client.post(reverse("settings-group-move", args=[api.pk]), {"direction": "up"})
    assert list(ComponentGroup.objects.order_by("position").values_list("name", flat=True)) == [
        "API",
        "Web",
    ]
    refused = admin_client.post(reverse("settings-group-remove", args=[web.pk]), follow=True)
    assert "Web still holds 1 component(s): move or remove them first." in refused.content.decode()
    assert ComponentGroup.objects.filter(pk=web.pk).exists()
    admin_client.post(reverse("settings-group-remove", args=[api.pk]))
    assert not ComponentGroup.objects.filter(pk=api.pk).exists()


def test_removing_a_component_is_refused_while_something_references_it(admin_client):
    component = ComponentFactory(name="Search")
    maintenance = ScheduledMaintenanceFactory()
    maintenance.components.add(component)
    edit = admin_client.get(reverse("settings-component-edit", args=[component.pk]))
    assert "Cannot be removed: 1 maintenance(s) list it." in edit.content.decode()
    refused = admin_client.post(
        reverse("settings-component-remove", args=[component.pk]), follow=True
    )
    assert "Search cannot be removed: 1 maintenance(s) list it." in refused.content.decode()
    assert Component.objects.filter(pk=component.pk).exists()

    maintenance.components.clear()
    admin_client.post(reverse("settings-component-remove", args=[component.pk]))
    assert not Component.objects.filter(pk=component.pk).exists()
    assert Component.history.filter(name="Search", history_type="-").exists()


@pytest.mark.parametrize(
    "fields, field_id, error",
    [
        ({"component-name": ""}, "id_component-name", "This field is required."),
        (
            {"component-name": "x" * 201},
            "id_component-name",
            "Ensure this value has at most 200 characters (it has 201).",
        ),
        (
            {"component-name": "API", "component-description": "d" * 1001},
            "id_component-description",
            "Ensure this value has at most 1000 characters",
        ),
        ({"component-name": "Line\nbreak"}, "id_component-name", "line break"),
        (
            {"component-name": "API", "component-group": "999999"},
            "id_component-group",
            "Select a valid choice.",
        ),
        (
            {"component-name": "API", "component-services": ["nope"]},
            "id_component-services",
            "is not a valid value",
        ),
    ],
)
def test_bad_component_input_is_a_field_error(admin_client, fields, field_id, error):
    response = admin_client.post(reverse("settings-component-add"), fields)
    assert response.status_code == 400
    page = response.content.decode()
    assert error in page
    assert f'for="{field_id}"' in page
    assert not Component.objects.exists()


def test_page_name_time_zone_and_logo_reach_the_public_page(
    admin_client, admin_user, published, django_capture_on_commit_callbacks, client
):
    png = tiny_png()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            PAGE,
            {
                "page-name": "Acme",
                "page-time_zone": "Europe/Paris",
                "page-logo": _upload("logo.png", png),
            },
        )
    assert response.status_code == 302
    row = PageSettings.objects.get()
    assert (row.name, row.time_zone, row.logo_type, bytes(row.logo)) == (
        "Acme",
        "Europe/Paris",
        "png",
        png,
    )
    history = row.history.first()
    assert history.history_user == admin_user and not hasattr(history, "logo")
    files = published()
    index = files["status/index.html"].decode()
    assert "<title>Acme status</title>" in index
    assert '<img class="logo" src="/status/logo.png"' in index
    assert json.loads(files["api/v2/summary.json"])["page"]["time_zone"] == "Europe/Paris"
    # Times say the page's zone (the reader's own is added by localtime.js).
    assert re.search(r'data-zone="Europe/Paris">\d+ \w+ \d{4}, \d\d:\d\d CES?T</time>', index)
    served = client.get("/status/logo.png")
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert b"".join(served) == png

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            PAGE, {"page-name": "Acme", "page-time_zone": "UTC", "page-remove_logo": "on"}
        )
    row.refresh_from_db()
    assert row.logo_type == "" and bytes(row.logo) == b""
    assert b"logo.png" not in published()["status/index.html"]


def _upload(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


@pytest.mark.parametrize(
    "fields, field_id, error",
    [
        ({"page-name": "", "page-time_zone": "UTC"}, "id_page-name", "This field is required."),
        (
            {"page-name": "n" * 101, "page-time_zone": "UTC"},
            "id_page-name",
            "at most 100 characters",
        ),
        (
            {"page-name": "Acme", "page-time_zone": "Mars/Olympus"},
            "id_page-time_zone",
            "Select a valid choice. Mars/Olympus is not one of the available choices.",
        ),
        (
            {"page-name": "Acme", "page-time_zone": "UTC", "page-logo": "svg"},
            "id_page-logo",
            "The logo must be a PNG, JPEG or WebP image.",
        ),
        (
            {"page-name": "Acme", "page-time_zone": "UTC", "page-logo": "big"},
            "id_page-logo",
            "at most 192 KB",
        ),
    ],
)
def test_bad_page_settings_are_field_errors(admin_client, fields, field_id, error):
    logos = {
        "svg": _upload("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>'),
        "big": _upload("logo.png", tiny_png() + b"\0" * LOGO_MAX_BYTES),  # under the body cap
    }
    if "page-logo" in fields:
        fields = {**fields, "page-logo": logos[fields["page-logo"]]}
    response = admin_client.post(PAGE, fields)
    assert response.status_code == 400
    page = response.content.decode()
    assert error in page and f'for="{field_id}"' in page
    assert not PageSettings.objects.exists()


def test_without_settings_the_page_keeps_the_configured_name(settings):
    settings.STATUSPAGE_NAME = "Configured"
    release = snapshot.snapshot_publish()
    assert b"<title>Configured status</title>" in (release / "status/index.html").read_bytes()
    assert not (release / "status/logo.png").exists()


def test_status_page_settings_are_for_admins_only(client, db):
    component, group = ComponentFactory(), ComponentGroupFactory()
    client.force_login(UserFactory(username="rita", role="responder"))
    for url in (
        PAGE,
        reverse("settings-component-edit", args=[component.pk]),
        reverse("settings-group-edit", args=[group.pk]),
    ):
        assert client.get(url).status_code == 403, url
    for url in (
        PAGE,
        reverse("settings-component-add"),
        reverse("settings-component-edit", args=[component.pk]),
        reverse("settings-component-move", args=[component.pk]),
        reverse("settings-component-remove", args=[component.pk]),
        reverse("settings-group-add"),
        reverse("settings-group-edit", args=[group.pk]),
        reverse("settings-group-move", args=[group.pk]),
        reverse("settings-group-remove", args=[group.pk]),
    ):
        assert client.post(url, {"name": "x", "direction": "up"}).status_code == 403, url
    assert Component.objects.filter(pk=component.pk).exists()


def test_a_logo_far_over_the_body_cap_is_a_field_error_not_a_413(admin_client, settings):
    """A photo picked by mistake (1 MB, four times the 256 KB body cap) is refused on
    the form with the field named and the limit said; only a body past the form's own
    allowance is refused at the edge."""
    from statuspage.page_settings import LOGO_UPLOAD_MAX_BYTES

    photo = _upload("holiday.jpg", b"\xff\xd8\xff" + b"\0" * (1024 * 1024))
    assert photo.size > settings.KEEL_MAX_BODY_BYTES
    response = admin_client.post(
        PAGE, {"page-name": "Acme", "page-time_zone": "UTC", "page-logo": photo}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "The logo is 1024 KB; at most 192 KB." in page and 'for="id_page-logo"' in page
    assert 'value="Acme"' in page  # what was typed is kept
    assert not PageSettings.objects.exists()

    huge = admin_client.generic(
        "POST", PAGE, b"x" * (LOGO_UPLOAD_MAX_BYTES + 1), content_type="application/octet-stream"
    )
    assert huge.status_code == 413
    elsewhere = admin_client.generic(
        "POST", "/settings/", b"x" * (settings.KEEL_MAX_BODY_BYTES + 1), content_type="text/plain"
    )
    assert elsewhere.status_code == 413  # other views keep the cap
