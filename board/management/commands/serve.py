import logging
import os
import signal
import subprocess

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from board.management.serving import LocalRedis, RedisNotFound, check_port_free, daphne_command

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Serve the board with daphne. Without REDIS_URL in the environment, a project-local "
        "redis-server is started under the data directory (and stopped afterwards)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="Address to bind (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=8000, help="Port to bind (default 8000).")
        parser.add_argument(
            "--no-sockets",
            action="store_true",
            help="Serve HTTP only (the admin, pages) and refuse every WebSocket: a process for the admin "
            "behind nginx (docs/deployment.md). The same as CHECKBOXES_SERVE_SOCKETS=0.",
        )

    def handle(self, *args, **options):
        if not 0 < options["port"] < 65536:
            raise CommandError(f"--port {options['port']} is not a TCP port.")
        try:
            check_port_free(options["host"], options["port"])
        except OSError as error:
            reason = error.strerror or str(error)
            raise CommandError(f"Cannot serve on {options['host']}:{options['port']}: {reason}.") from None
        if options["no_sockets"]:
            # For daphne, which reads the settings anew.
            os.environ["CHECKBOXES_SERVE_SOCKETS"] = "0"
        http_only = options["no_sockets"] or not settings.SERVE_SOCKETS
        local = self.start_local_redis()
        command = daphne_command(options["host"], options["port"])
        self.say(f"Serving on http://{options['host']}:{options['port']}/{' (no sockets)' if http_only else ''}")
        if local is None:
            # Nothing to clean up afterwards: become daphne, so that signals
            # and supervisors (systemd, tests, benchmarks) reach it directly.
            self.stdout.flush()
            os.execv(command[0], command)
        daphne = subprocess.Popen(command)
        # Ctrl+C reaches the whole process group; daphne shuts down on its own
        # and the local Redis must outlive it.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda *_: daphne.terminate())
        try:
            code = daphne.wait()
        finally:
            local.stop()
        if code not in (0, -signal.SIGINT, -signal.SIGTERM):
            raise CommandError(f"daphne exited with status {code}.")

    def start_local_redis(self):
        if settings.REDIS_URL_FROM_ENV:
            return None
        directory = settings.DATA_DIR / "redis"
        local = LocalRedis(directory, unix_socket=directory / "redis.sock", persistent=True)
        if local.ping():
            self.say(f"Using the Redis already running at {local.url}")
            return None
        try:
            local.start()
        except (RedisNotFound, RuntimeError) as error:
            raise CommandError(str(error)) from error
        self.say(f"Started Redis at {local.url} (data in {directory})")
        return local

    def say(self, text):
        """What serve is doing: a log line under LOG_FORMAT=json, so that all of the process's output is JSON."""
        if settings.LOG_FORMAT == "json":
            logger.info(text)
        else:
            self.stdout.write(self.style.SUCCESS(text))
