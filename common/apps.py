from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "common"
    verbose_name = "Keel kernel"

    def ready(self):
        from django.core.signals import request_finished

        from common import logs

        request_finished.connect(logs.clear, dispatch_uid="keel-clear-log-context")
