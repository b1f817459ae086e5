"""The README and docs/ as a newcomer reads them: every setting listed, every link inside the repository."""

import ast
import re

import pytest

from harness.servers import BASE_DIR

DOCUMENTS = [BASE_DIR / "README.md", *sorted((BASE_DIR / "docs").glob("*.md"))]


def variables_settings_read():
    """The first argument of every env_*() call in settings.py."""
    tree = ast.parse((BASE_DIR / "checkboxes_project" / "settings.py").read_text())
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id.startswith("env_")
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }


def configuration_table():
    readme = (BASE_DIR / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z0-9_]+)` \|", section, re.MULTILINE))


def test_the_configuration_table_lists_every_variable_settings_read():
    read = variables_settings_read()
    assert len(read) > 40
    assert read - configuration_table() == set()


def test_the_configuration_table_lists_nothing_settings_do_not_read():
    assert configuration_table() - variables_settings_read() == set()


def local_links(path):
    text = path.read_text()
    for target in re.findall(r"\]\(([^)\s]+)\)|(?:src|href)=\"([^\"]+)\"", text):
        target = target[0] or target[1]
        if not re.match(r"[a-z]+:|#", target):
            yield target


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_link_is_to_a_file_in_the_repository(document):
    for target in local_links(document):
        resolved = (document.parent / target.split("#")[0]).resolve()
        assert resolved.is_relative_to(BASE_DIR), target
        assert resolved.exists(), target


def test_there_is_a_licence():
    assert (BASE_DIR / "LICENSE").read_text().startswith("MIT License\n\nCopyright (c) 2026 Checkboxes contributors")
