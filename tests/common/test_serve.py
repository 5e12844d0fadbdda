"""`make run` links: every absolute link follows the BIND address unless KEEL_PUBLIC_URL is set."""

import socket

import pytest

from common.management.commands.serve import public_url_for_bind


@pytest.mark.parametrize(
    ("bind", "expected"),
    [
        ("127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("localhost:9001", "http://localhost:9001"),
        ("[::1]:8000", "http://[::1]:8000"),
        (":8000", "http://127.0.0.1:8000"),
    ],
)
def test_the_public_url_is_the_bound_address(bind, expected):
    assert public_url_for_bind(bind) == expected


@pytest.mark.parametrize("wildcard", ["0.0.0.0:8080", "[::]:8080"])
def test_a_wildcard_bind_is_named_by_the_machine(wildcard):
    assert public_url_for_bind(wildcard) == f"http://{socket.getfqdn()}:8080"
