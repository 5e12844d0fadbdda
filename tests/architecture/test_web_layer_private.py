"""An app's web layer is its own: no app imports another app's views, API views, URL
lists, admin or Celery tasks (modules named ``views``/``*_views``, ``apis``/``*_apis``,
``urls``/``*_urls``, ``admin``, ``tasks``). What other apps share lives in named modules
(services, selectors, ``incidents.visibility``, ``incidents.live_streams`` …); only
``config`` — the composition root — wires the web layers together.

Checked on grimp's import graph (the one ``lint-imports`` builds), so imports inside
functions count too."""

import re

import grimp

APPS = ("common", "incidents", "postmortems", "notifications", "statuspage", "reports", "workspace")
WEB_LAYER = re.compile(r"(^|_)(views|apis|urls)$|^(admin|tasks)$")


def is_web_layer(module: str) -> bool:
    return bool(WEB_LAYER.search(module.rsplit(".", 1)[-1]))


def cross_app_web_imports(graph) -> list[str]:
    found = []
    for importer in sorted(graph.modules):
        app = importer.split(".")[0]
        if app not in APPS or ".management." in importer or ".migrations." in importer:
            continue
        for imported in graph.find_modules_directly_imported_by(importer):
            if imported.split(".")[0] in set(APPS) - {app} and is_web_layer(imported):
                found.append(f"{importer} -> {imported}")
    return sorted(found)


def test_the_rule_names_the_web_layer_modules():
    for module in (
        "incidents.views",
        "incidents.live_views",
        "workspace.catalog_views",
        "incidents.api_urls",
        "incidents.change_apis",
        "statuspage.admin",
        "postmortems.tasks",
    ):
        assert is_web_layer(module), module
    for module in (
        "incidents.visibility",
        "incidents.live_streams",
        "notifications.services",
        "statuspage.selectors",
        "reports.taskset",
        "incidents.viewset_helpers",
    ):
        assert not is_web_layer(module), module


def test_no_app_imports_another_apps_web_layer():
    graph = grimp.build_graph(*APPS, "config", include_external_packages=False)
    assert cross_app_web_imports(graph) == []
