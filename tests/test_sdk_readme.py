"""The README's "Using mobproc from your code" examples run as they are against
`mobproc serve --demo` (only the address changes: the test server's port is its own)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import ServerProcess, remember

pytestmark = pytest.mark.database_agnostic

README = Path(__file__).parent.parent / "README.md"


def examples() -> list[str]:
    text = README.read_text()
    section = text[text.index("## Using mobproc from your code"):]
    section = section[:section.index("\n## ", 1)]
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)


def test_the_section_has_its_examples() -> None:
    codes = examples()
    assert len(codes) == 5
    assert any("AsyncTokenSession" in code for code in codes) and any("RequestsBearerAuth" in code for code in codes)
    assert any("Client(" in code and "submit(" in code for code in codes)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("readme"), "--demo") as server:
        yield server


@pytest.mark.parametrize("number", range(5))
def test_the_readme_example_runs(number: int, demo: ServerProcess, tmp_path: Path) -> None:
    code = examples()[number].replace("http://127.0.0.1:9031", demo.url)
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "TMPDIR": str(tmp_path)})
    print(ran.stdout)
    remember(*re.findall(r"^[A-Za-z0-9]{28}$", ran.stdout, re.MULTILINE))
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() and "Traceback" not in ran.stderr
