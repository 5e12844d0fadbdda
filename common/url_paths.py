"""URL lists that say only what differs: the paths of one kind of row (its list or
add form, its page, and the actions on it) follow one rule, so a URL file names a
prefix, a noun and the views, and ``row_paths`` writes the ``path()`` calls.

For ``row_paths("destinations/", "settings-destination", {...})``:

- ``"list"`` and ``"add"`` stand at the prefix itself (``destinations/``);
- ``"edit"`` and ``"detail"`` at the row (``destinations/<int:pk>/``);
- any other key, e.g. ``"rotate-secret"``, at ``destinations/<int:pk>/rotate-secret/``;

each named ``<noun>-<key>`` (``settings-destination-rotate-secret``). A key of the
form ``"key=path"`` keeps the name from ``key`` but stands at the row's ``path``
(``"update-preview=updates/preview"``). Paths that follow no rule are written as
plain ``path()`` calls next to them. An API view class is passed as the class; its
``as_view()`` is taken here."""

from django.urls import URLPattern, path

AT_PREFIX = frozenset({"list", "add"})
AT_ROW = frozenset({"edit", "detail"})


def _as_view(view):
    return view.as_view() if isinstance(view, type) else view


def row_paths(prefix: str, noun: str, views: dict, *, row: str = "<int:pk>/") -> list[URLPattern]:
    """The ``path()`` of each entry of ``views`` (key → view), in their order."""
    patterns = []
    for key, view in views.items():
        name, _, at = key.partition("=")
        if name in AT_PREFIX:
            route = prefix
        elif name in AT_ROW:
            route = prefix + row
        else:
            route = f"{prefix}{row}{at or name}/"
        patterns.append(path(route, _as_view(view), name=f"{noun}-{name}"))
    return patterns
