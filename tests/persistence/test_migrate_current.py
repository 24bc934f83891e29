"""A process that finds the schema current migrates nothing and never imports Alembic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from persistence.migrate import MIGRATIONS_DIR, head_revision
from tests.conftest import BACKENDS, fresh_database

ROOT = Path(__file__).resolve().parents[2]

# Migrates (in this fresh interpreter) and reports whether Alembic was imported.
_MIGRATE_AND_REPORT = """
import asyncio, sys
from persistence.database import create_engine
from persistence.migrate import migrate

async def main():
    engine = create_engine(sys.argv[1])
    try:
        await migrate(engine)
    finally:
        await engine.dispose()

asyncio.run(main())
print("alembic" in sys.modules)
"""


def test_head_read_from_the_files_is_alembics_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert head_revision() == ScriptDirectory.from_config(config).get_current_head()


def _migrate_in_a_process(url: str) -> bool:
    done = subprocess.run(
        [sys.executable, "-c", _MIGRATE_AND_REPORT, url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout.strip() == "True"


@pytest.mark.parametrize("backend", BACKENDS)
def test_only_a_process_with_work_to_do_imports_alembic(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as url:
        assert _migrate_in_a_process(url) is True  # an empty database: migrated
        assert _migrate_in_a_process(url) is False  # current: a version read, no Alembic
