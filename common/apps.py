from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "common"
    verbose_name = "Keel kernel"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from common.db import on_connection_created

        connection_created.connect(on_connection_created, dispatch_uid="keel-db-deadline")
