from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    name = "workspace"
    verbose_name = "Settings"

    def ready(self) -> None:
        # Imported in ready(): models load only once the app registry is (Django's rule).
        from django.db.models.signals import post_migrate

        from notifications import engine
        from notifications.channels import mail_server
        from notifications.slack import credentials
        from workspace import destination_test_sends, email_settings, first_run, slack_credentials

        engine.register(destination_test_sends.DESTINATION_TESTS)
        credentials.connect_store(
            bot_token=slack_credentials.stored_bot_token,
            signing_secret=slack_credentials.stored_signing_secret,
        )
        mail_server.connect_store(email_settings.stored_server)
        post_migrate.connect(first_run.after_migrate, sender=self)
