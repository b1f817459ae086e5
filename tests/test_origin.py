"""Who may open a socket: the site's own origin (scheme, host and port), trusted origins, and no unroutable path."""

import base64
import os
import socket

import pytest

from board.live.origin import allowed


def handshake(port, origin=None, path="/ws/b/main/", host=None, headers=()):
    """The HTTP status daphne answers a raw WebSocket handshake with."""
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host or f'127.0.0.1:{port}'}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
        "Sec-WebSocket-Version: 13",
        *([f"Origin: {origin}"] if origin else []),
        *headers,
    ]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        reply = b""
        while b"\r\n" not in reply:
            chunk = client.recv(4096)
            if not chunk:
                break
            reply += chunk
    return int(reply.split(b" ", 2)[1])


# -- against real daphne ------------------------------------------------------


def test_a_page_of_the_site_itself_opens_a_socket(daphnes):
    (server,) = daphnes(1)
    assert handshake(server.port, f"http://127.0.0.1:{server.port}") == 101


def test_a_page_on_another_port_of_an_allowed_host_is_refused(daphnes):
    (server,) = daphnes(1)
    assert handshake(server.port, f"http://127.0.0.1:{server.port + 1}") == 403
    assert handshake(server.port, "http://127.0.0.1") == 403


def test_a_page_of_another_scheme_is_refused(daphnes):
    (server,) = daphnes(1)
    assert handshake(server.port, f"https://127.0.0.1:{server.port}") == 403


def test_a_client_that_sends_no_origin_is_let_through(daphnes):
    (server,) = daphnes(1)
    assert handshake(server.port) == 101


def test_a_trusted_origin_opens_a_socket_and_https_behind_a_tls_proxy_is_the_sites_own(daphnes):
    (server,) = daphnes(1, DJANGO_CSRF_TRUSTED_ORIGINS="https://play.example.org", DJANGO_BEHIND_TLS_PROXY="1")
    assert handshake(server.port, "https://play.example.org") == 101
    tls = ["X-Forwarded-Proto: https"]
    assert handshake(server.port, f"https://127.0.0.1:{server.port}", headers=tls) == 101
    assert handshake(server.port, f"http://127.0.0.1:{server.port}", headers=tls) == 403


UNROUTABLE = ["/ws/", "/ws/b/", "/ws/b/main", "/ws/b/a.b/", "/ws/b/main/extra/", "/elsewhere", "/b/main/"]


def test_unroutable_socket_paths_are_refused_quietly(daphnes):
    (server,) = daphnes(1)
    origin = f"http://127.0.0.1:{server.port}"
    assert [handshake(server.port, origin, path=path) for path in UNROUTABLE] == [403] * len(UNROUTABLE)
    # The board's socket path still works, and the log holds no traceback.
    assert handshake(server.port, origin) == 101
    assert "Traceback" not in server.log()
    assert "No route found" not in server.log()


# -- the rule itself -----------------------------------------------------------


def scope(origin=None, host="checkboxes.example.org", scheme="ws", headers=()):
    pairs = [(b"host", host.encode())] if host else []
    if origin is not None:
        pairs.append((b"origin", origin.encode()))
    return {"type": "websocket", "scheme": scheme, "headers": pairs + [(k.encode(), v.encode()) for k, v in headers]}


@pytest.fixture
def site(settings):
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["checkboxes.example.org", "127.0.0.1"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://play.example.org:8443"]
    return settings


@pytest.mark.parametrize(
    ("origin", "host", "scheme", "expected"),
    [
        ("http://checkboxes.example.org", "checkboxes.example.org", "ws", True),
        ("http://checkboxes.example.org:80", "checkboxes.example.org", "ws", True),
        ("HTTP://Checkboxes.Example.org", "checkboxes.example.org:80", "ws", True),
        ("https://checkboxes.example.org", "checkboxes.example.org", "wss", True),
        ("http://127.0.0.1:8000", "127.0.0.1:8000", "ws", True),
        ("https://play.example.org:8443", "checkboxes.example.org", "wss", True),
        ("http://checkboxes.example.org", "checkboxes.example.org", "wss", False),
        ("https://checkboxes.example.org", "checkboxes.example.org", "ws", False),
        ("http://checkboxes.example.org:8080", "checkboxes.example.org", "ws", False),
        ("http://127.0.0.1:8001", "127.0.0.1:8000", "ws", False),
        ("https://play.example.org", "checkboxes.example.org", "wss", False),
        ("http://evil.example", "evil.example", "ws", False),
        ("https://evil.example", "checkboxes.example.org", "wss", False),
        ("null", "checkboxes.example.org", "ws", False),
        ("http://checkboxes.example.org/path", "checkboxes.example.org", "ws", False),
        ("ftp://checkboxes.example.org", "checkboxes.example.org", "ws", False),
        ("http://checkboxes.example.org:99999", "checkboxes.example.org", "ws", False),
        ("http://checkboxes.example.org", None, "ws", False),
    ],
)
def test_an_origin_must_match_in_scheme_host_and_port(site, origin, host, scheme, expected):
    assert allowed(scope(origin, host, scheme)) is expected


def test_no_origin_header_is_let_through(site):
    assert allowed(scope(None))


def test_two_origin_headers_are_refused(site):
    both = scope("http://checkboxes.example.org", headers=[("origin", "http://checkboxes.example.org")])
    assert not allowed(both)


def test_behind_a_tls_proxy_django_is_told_about_the_site_is_https(site):
    site.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxied = [("x-forwarded-proto", "https")]
    assert allowed(scope("https://checkboxes.example.org", headers=proxied))
    assert not allowed(scope("http://checkboxes.example.org", headers=proxied))
    assert allowed(scope("http://checkboxes.example.org", headers=[("x-forwarded-proto", "http")]))


def test_the_proxy_header_counts_only_when_django_is_told_to_believe_it(site):
    assert not allowed(scope("https://checkboxes.example.org", headers=[("x-forwarded-proto", "https")]))


def test_with_debug_on_and_no_hosts_listed_local_hosts_are_the_site(settings):
    settings.DEBUG, settings.ALLOWED_HOSTS = True, []
    assert allowed(scope("http://localhost:8000", host="localhost:8000"))
    assert not allowed(scope("http://example.org", host="example.org"))


def test_ipv6_hosts_compare_by_address_and_port(site):
    site.ALLOWED_HOSTS = ["[::1]"]
    assert allowed(scope("http://[::1]:8000", host="[::1]:8000"))
    assert not allowed(scope("http://[::1]:8001", host="[::1]:8000"))
