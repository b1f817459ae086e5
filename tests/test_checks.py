"""Production safety: system checks, settings from the environment, CSRF and debug pages."""

import json
import subprocess
import sys

import pytest
from django.urls import get_resolver

from board import checks
from harness.servers import BASE_DIR

GOOD_KEY = "a-long-random-production-secret-0123456789-abcdefghijklmnop"
IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def ids(messages):
    return [message.id for message in messages]


def production(settings, **overrides):
    settings.DEBUG = False
    settings.SECRET_KEY = GOOD_KEY
    settings.ALLOWED_HOSTS = ["checkboxes.example.org"]
    for name, value in overrides.items():
        setattr(settings, name, value)


def test_a_sound_production_configuration_passes_every_check(settings):
    production(settings)
    assert checks.secret_key_check(None) == []
    assert checks.allowed_hosts_check(None) == []
    assert checks.channel_layer_check(None) == []
    assert checks.undo_retention_check(None) == []


@pytest.mark.parametrize(
    "key",
    [
        "django-insecure-checkboxes-development-key-do-not-use-in-production",
        "short-key",
        "x" * 60,
        "django-insecure-" + "abcdefghij" * 5,
    ],
)
def test_debug_off_refuses_a_development_short_or_dull_secret_key(settings, key):
    production(settings, SECRET_KEY=key)
    errors = checks.secret_key_check(None)
    assert ids(errors) == ["checkboxes.E001"]
    assert "DJANGO_SECRET_KEY" in errors[0].hint


def test_debug_on_accepts_the_development_key(settings):
    settings.DEBUG = True
    settings.SECRET_KEY = settings.DEV_SECRET_KEY
    assert checks.secret_key_check(None) == []


def test_debug_off_requires_allowed_hosts(settings):
    production(settings, ALLOWED_HOSTS=[])
    errors = checks.allowed_hosts_check(None)
    assert ids(errors) == ["checkboxes.E002"]
    assert "DJANGO_ALLOWED_HOSTS" in errors[0].hint


def test_a_wildcard_host_is_a_warning_because_any_domain_pointed_here_is_the_site(settings):
    production(settings, ALLOWED_HOSTS=["*"])
    assert ids(checks.allowed_hosts_check(None)) == ["checkboxes.W001"]


def test_debug_on_with_a_public_host_is_a_warning(settings):
    settings.DEBUG = True
    settings.ALLOWED_HOSTS = ["127.0.0.1", "checkboxes.example.org"]
    warnings = checks.allowed_hosts_check(None)
    assert ids(warnings) == ["checkboxes.W002"]
    assert "checkboxes.example.org" in warnings[0].msg


def test_debug_on_with_local_hosts_only_is_fine(settings):
    settings.DEBUG = True
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
    assert checks.allowed_hosts_check(None) == []


def test_debug_off_refuses_the_in_memory_channel_layer(settings):
    production(settings, CHANNEL_LAYERS=IN_MEMORY)
    errors = checks.channel_layer_check(None)
    assert ids(errors) == ["checkboxes.E003"]
    assert errors[0].hint


def test_undo_points_kept_for_less_than_the_log_is_a_warning(settings):
    production(settings, HISTORY_RETENTION_HOURS=24, BOARD_UNDO_KEEP_HOURS=12)
    warnings = checks.undo_retention_check(None)
    assert ids(warnings) == ["checkboxes.W003"]
    assert "BOARD_UNDO_KEEP_HOURS" in warnings[0].hint
    settings.BOARD_UNDO_KEEP_HOURS = 24
    assert checks.undo_retention_check(None) == []


def test_debug_on_may_use_the_in_memory_channel_layer(settings):
    settings.DEBUG = True
    settings.CHANNEL_LAYERS = IN_MEMORY
    assert checks.channel_layer_check(None) == []


def test_a_cluster_named_by_one_node_is_a_warning(settings):
    settings.REDIS_URL = "redis+cluster://10.0.0.1:7000"
    warnings = checks.cluster_nodes_check(None)
    assert ids(warnings) == ["checkboxes.W004"]
    assert "redis+cluster://" in warnings[0].hint


@pytest.mark.parametrize("url", ["redis+cluster://10.0.0.1:7000,10.0.0.2:7000", "redis://10.0.0.1:6379/0"])
def test_a_cluster_of_several_listed_nodes_or_one_server_is_fine(settings, url):
    settings.REDIS_URL = url
    assert checks.cluster_nodes_check(None) == []


def test_a_socket_must_be_paused_before_it_is_closed_for_not_reading(settings):
    settings.BOARD_LAG_FRAMES = 400
    settings.BOARD_MAX_UNACKED_FRAMES = 400
    assert ids(checks.flow_control_check(None)) == ["checkboxes.E004"]
    settings.BOARD_MAX_UNACKED_FRAMES = 401
    assert checks.flow_control_check(None) == []


# -- the real thing: settings.py and manage.py with a production environment ----------


def run(arguments, **env):
    environment = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "checkboxes_project.settings", **env}
    return subprocess.run(
        [sys.executable, *arguments], cwd=BASE_DIR, env=environment, capture_output=True, text=True, timeout=60
    )


def run_python(code, **env):
    return run(["-c", code], **env)


def settings_under(**env):
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({n: getattr(s, n, None) for n in "
        "['DEBUG', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_HSTS_SECONDS', "
        "'SECURE_PROXY_SSL_HEADER', 'BOARD_CHANGE_BUCKET', 'BOARD_NETWORK_CHANGE_BUCKET']}))"
    )
    result = run_python(code, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_manage_py_refuses_to_run_with_debug_off_and_nothing_configured(tmp_path):
    result = run(["manage.py", "check"], DJANGO_DEBUG="0", CHECKBOXES_DATA_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "checkboxes.E001" in result.stderr
    assert "checkboxes.E002" in result.stderr


def test_cookies_are_secure_once_debug_is_off(tmp_path):
    values = settings_under(DJANGO_DEBUG="0", DJANGO_SECRET_KEY=GOOD_KEY, CHECKBOXES_DATA_DIR=str(tmp_path))
    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True


def test_hsts_and_the_tls_proxy_header_are_opt_in(tmp_path):
    off = settings_under(DJANGO_DEBUG="0", CHECKBOXES_DATA_DIR=str(tmp_path))
    assert off["SECURE_HSTS_SECONDS"] == 0
    assert off["SECURE_PROXY_SSL_HEADER"] is None
    on = settings_under(
        DJANGO_DEBUG="0",
        DJANGO_HSTS_SECONDS="31536000",
        DJANGO_BEHIND_TLS_PROXY="1",
        CHECKBOXES_DATA_DIR=str(tmp_path),
    )
    assert on["SECURE_HSTS_SECONDS"] == 31536000
    assert on["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_the_change_buckets_default_to_a_burst_of_40_refilled_6_a_second(tmp_path):
    values = settings_under(CHECKBOXES_DATA_DIR=str(tmp_path))
    assert values["BOARD_CHANGE_BUCKET"] == [40, 6.0]
    assert values["BOARD_NETWORK_CHANGE_BUCKET"] == [120, 15.0]


def test_a_change_bucket_may_refill_slower_than_once_a_second_or_be_turned_off(tmp_path):
    values = settings_under(
        BOARD_CHANGE_BUCKET=" 5/0.25 ", BOARD_NETWORK_CHANGE_BUCKET="", CHECKBOXES_DATA_DIR=str(tmp_path)
    )
    assert values["BOARD_CHANGE_BUCKET"] == [5, 0.25]
    assert values["BOARD_NETWORK_CHANGE_BUCKET"] is None


@pytest.mark.parametrize(
    ("name", "value", "complaint"),
    [
        ("BOARD_CHANGE_BUCKET", "40 per 6", "is not capacity/refill"),
        ("BOARD_CHANGE_BUCKET", "0/6", "capacity of at least 1"),
        ("BOARD_NETWORK_CHANGE_BUCKET", "5/0", "refill above 0"),
        ("BOARD_NETWORK_CHANGE_BUCKET", "5/nan", "refill above 0"),
        ("BOARD_FRAME_LIMITS", "0/1", "at least 1"),
        ("TRUSTED_PROXIES", "10.0.0.0/8,proxy.example", "does not appear to be"),
        ("BOARD_MAX_SOCKETS_PER_NETWORK", "-1", "below the minimum"),
    ],
)
def test_malformed_limits_stop_the_server_with_a_clear_message(tmp_path, name, value, complaint):
    result = run_python("import django; django.setup()", **{name: value, "CHECKBOXES_DATA_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr and complaint in result.stderr


# -- CSRF and debug pages ---------------------------------------------------------------


def test_the_csrf_middleware_is_on():
    from django.conf import settings

    assert "django.middleware.csrf.CsrfViewMiddleware" in settings.MIDDLEWARE


def every_view(resolver=None):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if hasattr(pattern, "url_patterns"):
            yield from every_view(pattern)
        else:
            yield pattern.callback


def test_no_view_is_exempt_from_csrf_but_the_read_only_state():
    from board import views

    # It refuses every unsafe method itself, with 405 rather than CSRF's 403
    # (tests/test_state_endpoint.py): it has nothing to protect.
    exempt = [view for view in every_view() if getattr(view, "csrf_exempt", False)]
    assert exempt == [views.board_state]


@pytest.mark.django_db
def test_a_form_posted_without_its_csrf_token_is_refused(django_user_model):
    from django.test import Client

    django_user_model.objects.create_superuser("moderator", password="a-good-long-password")
    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/admin/login/", {"username": "moderator", "password": "a-good-long-password"})
    assert response.status_code == 403
    assert "_auth_user_id" not in strict.session


@pytest.mark.django_db
def test_errors_show_no_debug_page_when_debug_is_off(client, settings):
    settings.DEBUG = False
    response = client.get("/b/no-such-board/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Traceback" not in body and "URLconf" not in body and "DEBUG" not in body


def test_undo_points_are_kept_as_long_as_the_log_unless_configured(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.HISTORY_RETENTION_HOURS, s.BOARD_UNDO_KEEP_HOURS)"
    )
    follows = run_python(code, HISTORY_RETENTION_HOURS="36", CHECKBOXES_DATA_DIR=str(tmp_path))
    assert follows.stdout.split() == ["36", "36"], follows.stderr
    own = run_python(code, HISTORY_RETENTION_HOURS="36", BOARD_UNDO_KEEP_HOURS="72", CHECKBOXES_DATA_DIR=str(tmp_path))
    assert own.stdout.split() == ["36", "72"], own.stderr
