from django.apps import AppConfig


class PostmortemsConfig(AppConfig):
    name = "postmortems"

    def ready(self) -> None:
        # Imported in ready(): models load only once the app registry is (Django's rule).
        # The incidents app owns the closing rules; this app owns the facts behind two.
        from incidents import lifecycle
        from postmortems import services

        lifecycle.set_postmortem_check(services.has_published_postmortem)
        lifecycle.register_closing_check(services.action_items_blocker)

        from common import metrics
        from notifications import my_work
        from postmortems import metrics as postmortem_metrics
        from postmortems import my_work as my_postmortem_work

        metrics.register_collector("postmortems", postmortem_metrics.collect)
        my_work.register_part("reviews", my_postmortem_work.my_reviews)
        my_work.register_part("action_items", my_postmortem_work.my_open_action_items)
