"""The command line is a client of the REST API: it imports nothing of the server."""

from __future__ import annotations

import ast
from pathlib import Path

CLI = Path(__file__).resolve().parents[2] / "cli"
SERVER_PACKAGES = {
    "api",
    "persistence",
    "workflows",
    "activities",
    "processes",
    "worker",
    "settings",
    "devstack",
    "api_main",
    "worker_main",
}


def test_cli_modules_import_no_server_package() -> None:
    offending = []
    for module in sorted(CLI.rglob("*.py")):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offending += [
                f"{module.name}: {n}" for n in names if n.split(".")[0] in SERVER_PACKAGES
            ]
    assert offending == []
