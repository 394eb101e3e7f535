"""``scripts/run`` says each step and installs only when ``pyproject.toml`` changed.

The script runs in a copy of the repository's layout whose ``.venv`` holds stand-ins: a ``python``
that records ``pip`` calls (and runs everything else with this interpreter) and a ``rebac`` that
records how it was called. Nothing is installed and no server starts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BASH = shutil.which("bash") or "/bin/bash"


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "run", tmp_path / "scripts" / "run")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "rebac"\n')
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    python.write_text(
        "#!/usr/bin/env bash\n"
        'if [ "$1 $2" = "-m pip" ]; then\n'
        '    echo "pip $*" >>"$CALLS"; cp "$(dirname "$0")/rebac.real" "$(dirname "$0")/rebac"; exit 0\n'
        "fi\n"
        f'exec {sys.executable} "$@"\n'
    )
    rebac = bin_dir / "rebac.real"
    rebac.write_text('#!/usr/bin/env bash\necho "rebac $*" >>"$CALLS"\n')
    for script in (python, rebac):
        script.chmod(0o755)
    return tmp_path


def run(checkout: Path, *args: str, **env: str) -> tuple[str, list[str]]:
    """Run ``scripts/run``; return its standard error and the calls the stand-ins recorded."""
    calls = checkout / "calls.txt"
    calls.write_text("")
    base = {k: v for k, v in os.environ.items() if k not in {"REBAC_DATABASE_URL", "REBAC_HOME"}}
    done = subprocess.run(  # noqa: S603 - the script under test, run by bash
        [BASH, str(checkout / "scripts" / "run"), *args],
        env={**base, "CALLS": str(calls), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr, calls.read_text().splitlines()


def test_the_install_is_skipped_until_pyproject_changes(checkout: Path) -> None:
    said, calls = run(checkout, "--demo", REBAC_HOME="/srv/rebac-home")
    assert said.splitlines() == [
        "run: venv: using .venv",
        "run: install: installing rebac and its dependencies into .venv (pip install -e .)",
        "run: database: the embedded PostgreSQL in /srv/rebac-home; rebac serve starts and migrates it",
        "run: serve: rebac serve --demo",
    ]
    assert calls[0].startswith("pip -m pip install")
    assert calls[1:] == ["rebac serve --demo"]

    said, calls = run(checkout, "--port", "9000")
    assert "run: install: pyproject.toml unchanged since the last install; skipping it" in said
    assert calls == ["rebac serve --port 9000"]  # no pip

    (checkout / "pyproject.toml").write_text('[project]\nname = "rebac"\nversion = "2"\n')
    said, calls = run(checkout, REBAC_DATABASE_URL="postgresql://root@127.0.0.1/x")
    assert "run: install: installing rebac" in said
    assert "run: database: REBAC_DATABASE_URL is set; rebac serve checks it" in said
    assert [call.split()[0] for call in calls] == ["pip", "rebac"]

    said, calls = run(checkout)
    assert calls == ["rebac serve"]
    assert f"in {Path.home()}/.local/share/rebac;" in said  # the default REBAC_HOME


def test_a_lost_installation_is_installed_again(checkout: Path) -> None:
    run(checkout)
    (checkout / ".venv" / "bin" / "rebac").unlink()  # the stamp alone does not skip the install
    said, calls = run(checkout)
    assert "run: install: installing rebac" in said
    assert calls[0].startswith("pip ")
