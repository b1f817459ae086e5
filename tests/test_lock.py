"""The lock files reproduce the environment: the Makefile installs from them, and nothing else gets in."""

import importlib.metadata
import re

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name

from harness.servers import BASE_DIR

LOCKS = ["requirements.lock", "requirements-dev.lock", "requirements-sentry.lock", "requirements-redis.lock"]
# What `python -m venv` puts in every environment before the Makefile runs.
VENV_BOOTSTRAP = {"pip", "setuptools"}
ENTRY = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def entries(lock):
    """(name, version, marker or None, hashes) of every package a lock file pins."""
    found, current = [], None
    for line in (BASE_DIR / lock).read_text().splitlines():
        match = ENTRY.match(line)
        if match:
            name, version, marker = match.groups()
            current = [canonicalize_name(name.split("[")[0]), version, marker, []]
            found.append(current)
        elif current and line.strip().startswith("--hash=sha256:"):
            current[3].append(line.strip().removeprefix("--hash=sha256:").rstrip(" \\"))
    return found


def applies(marker):
    return marker is None or Marker(marker).evaluate()


def installed():
    return {canonicalize_name(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}


@pytest.mark.parametrize("lock", LOCKS)
def test_every_locked_package_has_a_version_and_hashes(lock):
    found = entries(lock)
    assert found
    for name, version, _, hashes in found:
        assert re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", version), name
        assert hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), name


def test_the_test_environment_is_exactly_the_dev_lock():
    """Every package the dev lock pins for this platform is installed at its version, and nothing more."""
    have = installed()
    wanted = {name: version for name, version, marker, _ in entries("requirements-dev.lock") if applies(marker)}
    optional = {name: version for name, version, marker, _ in entries("requirements-redis.lock") if applies(marker)}
    assert {name: have.get(name) for name in wanted} == wanted
    extra = set(have) - set(wanted) - VENV_BOOTSTRAP
    assert {name: have[name] for name in extra} == {name: optional[name] for name in extra if name in optional}


def test_serving_needs_only_a_part_of_the_test_tools_and_agrees_on_versions():
    serving = {name: version for name, version, _, _ in entries("requirements.lock")}
    tools = {name: version for name, version, _, _ in entries("requirements-dev.lock")}
    assert serving.items() <= tools.items()
    for test_only in ("pytest", "playwright", "hypothesis", "ruff", "sentry-sdk"):
        assert test_only in tools and test_only not in serving


def test_the_locks_agree_on_every_package_they_share():
    """An optional lock installed beside requirements.lock (--no-deps) must not move anything it holds."""
    versions = {}
    for lock in LOCKS:
        for name, version, marker, _ in entries(lock):
            if applies(marker):
                versions.setdefault(name, {})[lock] = version
    assert {name: by_lock for name, by_lock in versions.items() if len(set(by_lock.values())) > 1} == {}


def test_the_human_edited_pins_are_the_locked_versions():
    locked = {name: version for lock in LOCKS for name, version, marker, _ in entries(lock) if applies(marker)}
    for source in ("requirements.txt", "requirements-dev.txt", "requirements-sentry.txt"):
        for line in (BASE_DIR / source).read_text().splitlines():
            match = ENTRY.match(line.strip())
            if match:
                name, version, _ = match.groups()
                assert locked[canonicalize_name(name.split("[")[0])] == version, (source, name)
