from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "common"
    verbose_name = "Keel kernel"

    def ready(self) -> None:
        from django.core.signals import request_finished
        from django.db.backends.signals import connection_created

        from common import logs
        from common.db import on_connection_created

        request_finished.connect(logs.clear, dispatch_uid="keel-clear-log-context")
        connection_created.connect(on_connection_created, dispatch_uid="keel-db-deadline")
