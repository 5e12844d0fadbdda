"""Run the local OpenID Connect provider: ``python -m tests.fakes.oidc_provider.serve
<port> <setup.json>``. Migrates its own SQLite (``OIDC_PROVIDER_DB``), creates the
signing key, the client and the people the setup file names, then serves HTTP on
127.0.0.1 until killed, printing ``ready`` once it listens.

setup.json: ``{"client": {"id", "secret", "redirect_uri"},
"users": [{"username", "password", "email", "groups": [...]}]}``
"""

import json
import os
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


def setup(config: dict) -> None:
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from oidc_provider.models import Client, ResponseType, RSAKey

    call_command("migrate", verbosity=0)
    if not RSAKey.objects.exists():
        call_command("creatersakey", verbosity=0)
    client_conf = config["client"]
    client, _ = Client.objects.update_or_create(
        client_id=client_conf["id"],
        defaults={
            "name": "Keel",
            "client_type": "confidential",
            "client_secret": client_conf["secret"],
            "jwt_alg": "RS256",
            "require_consent": False,
            "_redirect_uris": client_conf["redirect_uri"],
            "_scope": "openid email profile groups",
        },
    )
    client.response_types.set([ResponseType.objects.get(value="code")])
    for person in config["users"]:
        user, _ = User.objects.update_or_create(
            username=person["username"],
            defaults={
                "email": person["email"],
                "first_name": person.get("first_name", ""),
                "last_name": person.get("last_name", ""),
            },
        )
        user.set_password(person["password"])
        user.save()
        user.groups.set([Group.objects.get_or_create(name=name)[0] for name in person["groups"]])


def main() -> None:
    port, setup_path = int(sys.argv[1]), sys.argv[2]
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.fakes.oidc_provider.settings"
    import django

    django.setup()
    with open(setup_path) as handle:
        setup(json.load(handle))
    from django.core.wsgi import get_wsgi_application

    server = make_server(
        "127.0.0.1",
        port,
        get_wsgi_application(),
        server_class=_ThreadingServer,
        handler_class=_QuietHandler,
    )
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
