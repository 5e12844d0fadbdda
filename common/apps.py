from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "common"
    verbose_name = "Keel kernel"

    def ready(self) -> None:
        # Imported in ready(): models load only once the app registry is (Django's rule).
        from axes.signals import user_locked_out
        from django.core.signals import request_finished
        from django.db.backends.signals import connection_created

        from common import logs
        from common.db import on_connection_created

        request_finished.connect(logs.clear, dispatch_uid="keel-clear-log-context")
        connection_created.connect(on_connection_created, dispatch_uid="keel-db-deadline")
        user_locked_out.connect(_log_lockout, dispatch_uid="keel-log-lockout")


def _log_lockout(sender, request=None, username=None, ip_address=None, **kwargs):
    """A lockout is an operational event: log it (axes' tables hold the attempts)."""
    import logging

    logging.getLogger("keel.security").warning(
        "sign-in locked out username=%s address=%s path=%s",
        username,
        ip_address,
        getattr(request, "path", ""),
    )
