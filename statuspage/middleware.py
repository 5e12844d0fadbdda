"""Serve snapshot files before the rest of the middleware stack runs.

Like WhiteNoise for static files: a GET for a file of the live snapshot is
answered here, so sessions, CSRF, auth, messages and URL routing never run —
no cookie can be set, no database or cache touched, and Django's cost per
request is a ``readlink`` and a dict lookup. Anything else (a path the snapshot
does not have, the subscription forms, no snapshot yet) goes on to the views.
"""

from statuspage import views


class SnapshotMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in ("GET", "HEAD"):
            rel = views.snapshot_path(request.path_info)
            if rel is not None:
                release = views._release()
                if release is not None and rel in release.files:
                    request.metrics_view = "statuspage:snapshot"  # common.metrics_http
                    return views.serve(request, rel)
        return self.get_response(request)
