"""A real OpenID Connect provider for the SSO tests: a tiny Django project on
django-oidc-provider, run as its own process with its own SQLite (``serve.py``)."""
