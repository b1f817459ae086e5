"""`manage.py serve`, as `make run PORT=... HOST=...` runs it: where it serves, and a port it cannot have."""

import socket
import subprocess
import urllib.request

import pytest

from board.management.serving import free_port
from harness.servers import BASE_DIR, Daphne, serve_command, server_environment, terminate, wait_until_healthy


def test_serves_on_the_port_it_is_given(tmp_path, transactional_db):
    port = free_port()
    server = Daphne(tmp_path, port=port).start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            assert response.status == 200
    finally:
        server.stop()


@pytest.mark.parametrize("host", ["127.0.0.1", "203.0.113.1"], ids=["taken port", "foreign address"])
def test_a_port_it_cannot_bind_is_one_line_before_serving(host, transactional_db):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        command = serve_command(port, host=host)
        result = subprocess.run(
            command, cwd=BASE_DIR, env=server_environment(), capture_output=True, text=True, timeout=60
        )
    assert result.returncode != 0
    assert "Serving on" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"CommandError: Cannot serve on {host}:{port}: ")


def test_with_no_sockets_it_serves_pages_and_refuses_every_socket(tmp_path, transactional_db):
    from board.models import Board
    from harness import raw

    Board.objects.default()
    port = free_port()
    command = [*serve_command(port), "--no-sockets"]
    with open(tmp_path / "serve.log", "wb") as log:
        process = subprocess.Popen(command, cwd=BASE_DIR, env=server_environment(), stdout=log, stderr=log)
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", process, describe=lambda: (tmp_path / "serve.log").read_text())
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            assert response.status == 200
        with pytest.raises(raw.HandshakeRefused) as refused:
            raw.RawSocket(port).open()
        assert refused.value.status == 403
        assert f"Serving on http://127.0.0.1:{port}/ (no sockets)" in (tmp_path / "serve.log").read_text()
    finally:
        terminate(process)
