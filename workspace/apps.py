from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    name = "workspace"
    verbose_name = "Settings"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from notifications import engine
        from workspace import destination_test_sends, first_run

        engine.register(destination_test_sends.DESTINATION_TESTS)
        post_migrate.connect(first_run.after_migrate, sender=self)
