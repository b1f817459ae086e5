"""Debian's nginx, run by tests and benchmarks as a child process with deploy/nginx/checkboxes.conf.

The site file is used as shipped; only what must differ on a test machine is
replaced: the port it listens on, the daphne ports (the players' and the
admin's), and the static root.
A missing nginx fails the run (.ci/run installs nginx-light), like Chromium.
"""

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

from board.management.serving import free_port
from harness.servers import terminate

BASE_DIR = Path(__file__).resolve().parent.parent
SITE = BASE_DIR / "deploy" / "nginx" / "checkboxes.conf"
UPSTREAM_LINE = re.compile(r"^(\s*)server 127\.0\.0\.1:\d+ (.*);$", re.MULTILINE)
ADMIN_UPSTREAM = re.compile(r"upstream checkboxes_admin \{.*?\}", re.DOTALL)

MAIN_CONFIG = """
daemon off;
master_process on;
worker_processes 1;
{user}
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections {worker_connections}; }}
http {{
    {mime_types}
    default_type application/octet-stream;
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/site.conf;
}}
"""


def nginx_path():
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not path:
        raise RuntimeError("nginx is not installed: apt-get install nginx-light (.ci/run does this).")
    return path


def site_config(port, upstream_ports, static_root, cache_dir, admin_port=None):
    """deploy/nginx/checkboxes.conf with this machine's ports and paths.

    The admin's upstream gets ``admin_port``, or without one the first of the
    players' processes.
    """
    text = SITE.read_text()
    (admin,) = ADMIN_UPSTREAM.findall(text)
    admin_port = admin_port or upstream_ports[0]
    text = text.replace(admin, "@ADMIN@")
    admin = UPSTREAM_LINE.sub(lambda line: f"{line[1]}server 127.0.0.1:{admin_port} {line[2]};", admin)
    lines = UPSTREAM_LINE.findall(text)
    assert lines, "the site file's upstream servers are not where the test expects them"
    indent, options = lines[0]
    servers = "\n".join(f"{indent}server 127.0.0.1:{upstream} {options};" for upstream in upstream_ports)
    text = UPSTREAM_LINE.sub("", text, count=len(lines) - 1)
    text = UPSTREAM_LINE.sub(servers, text).replace("@ADMIN@", admin)
    text = text.replace("listen 80;", f"listen 127.0.0.1:{port};").replace("listen [::]:80;", "")
    cache = "proxy_cache_path /var/cache/nginx/checkboxes "
    assert cache in text, "the site file's cache path is not where the test expects it"
    text = text.replace(cache, f"proxy_cache_path {cache_dir} ")
    return text.replace("alias /srv/checkboxes/data/static/;", f"alias {static_root}/;")


class Nginx:
    def __init__(self, directory, upstream_ports, static_root, worker_connections=1024, admin_port=None):
        self.directory = Path(directory)
        self.admin_port = admin_port
        self.worker_connections = worker_connections
        self.port = free_port()
        self.upstream_ports = upstream_ports
        self.static_root = static_root
        self.process = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def write_config(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "site.conf").write_text(
            site_config(self.port, self.upstream_ports, self.static_root, self.directory / "cache", self.admin_port)
        )
        mime_types = Path("/etc/nginx/mime.types")
        main = MAIN_CONFIG.format(
            tmp=self.directory,
            worker_connections=self.worker_connections,
            # Workers of a root master would run as nobody, who cannot read a test's tmp directory.
            user="user root;" if os.geteuid() == 0 else "",
            mime_types=f"include {mime_types};" if mime_types.exists() else "",
        )
        (self.directory / "nginx.conf").write_text(main)
        return self.directory / "nginx.conf"

    def command(self, *extra):
        return [nginx_path(), "-p", str(self.directory), "-c", str(self.directory / "nginx.conf"), *extra]

    def check(self):
        """``nginx -t`` on the generated configuration: its output, or an AssertionError."""
        self.write_config()
        result = subprocess.run(self.command("-t"), capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        return result.stderr

    def start(self, timeout=10):
        self.write_config()
        with open(self.directory / "stderr.log", "ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited early:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not listen within {timeout} s:\n{self.log()}")

    def stop(self):
        # SIGTERM is nginx's fast shutdown: a graceful one would wait for every proxied socket to close.
        terminate(self.process)

    def log(self):
        return "\n".join(
            path.read_text(errors="replace")[-3000:]
            for path in (self.directory / "stderr.log", self.directory / "error.log")
            if path.exists()
        )
