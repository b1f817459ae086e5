"""
The whole site on this machine for scripts outside pytest (screenshots,
browser benchmarks): its own redis-server, a fresh SQLite database and one
daphne, all under a temporary directory and all stopped afterwards.
"""

import contextlib
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def local_site():
    """Yields the site's base URL (http://127.0.0.1:port) once daphne answers."""
    sys.path.insert(0, str(ROOT))
    from board.management.serving import LocalRedis

    with tempfile.TemporaryDirectory(prefix="checkboxes-site-") as directory:
        workdir = Path(directory)
        redis_server = LocalRedis(workdir / "redis").start()
        try:
            _configure(workdir, redis_server.url)
            from harness.servers import Daphne

            server = Daphne(workdir).start()
            try:
                yield server.url
            finally:
                server.stop()
        finally:
            redis_server.stop()


def _configure(workdir, redis_url):
    os.environ.update(
        DJANGO_SETTINGS_MODULE="checkboxes_project.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="local-site-only-" + "x" * 40,
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=f"sqlite:///{workdir / 'db.sqlite3'}",
        REDIS_URL=redis_url,
        WHITENOISE_USE_FINDERS="1",
        # With DEBUG off pages link collectstatic's hashed names.
        DJANGO_STATIC_ROOT=str(workdir / "static"),
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)


def random_bits(size, density, seed=1):
    """A bitset for ``size`` boxes with about ``density`` of them checked."""
    import random

    rng = random.Random(seed)
    bits = bytearray((size + 7) // 8)
    for index in range(size):
        if rng.random() < density:
            bits[index >> 3] |= 0x80 >> (index & 7)
    return bytes(bits)
