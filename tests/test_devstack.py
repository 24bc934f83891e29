"""How ``devstack`` picks the dev server's task queue partitions from the data dir."""

from __future__ import annotations

import stat
from pathlib import Path

import devstack


def test_new_database_gets_one_partition_and_remembers_it(tmp_path: Path) -> None:
    assert devstack.partition_flags(tmp_path) == devstack.ONE_PARTITION_FLAGS
    marker = tmp_path / devstack.ONE_PARTITION_MARKER
    assert stat.S_IMODE(marker.stat().st_mode) == 0o600

    (tmp_path / "temporal.db").write_bytes(b"")  # the server created it meanwhile
    assert devstack.partition_flags(tmp_path) == devstack.ONE_PARTITION_FLAGS


def test_database_created_with_one_partition_keeps_it(tmp_path: Path) -> None:
    (tmp_path / "temporal.db").write_bytes(b"")
    (tmp_path / devstack.ONE_PARTITION_MARKER).write_text("")
    assert devstack.partition_flags(tmp_path) == devstack.ONE_PARTITION_FLAGS


def test_database_from_before_keeps_temporals_default(tmp_path: Path) -> None:
    (tmp_path / "temporal.db").write_bytes(b"")
    assert devstack.partition_flags(tmp_path) == ()
    assert not (tmp_path / devstack.ONE_PARTITION_MARKER).exists()
