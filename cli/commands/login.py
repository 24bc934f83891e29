"""``scheduler login`` and ``logout``: the stored token pair."""

from __future__ import annotations

import getpass
import os
import sys
import time
from typing import Annotated

from cyclopts import Parameter

from cli import output
from cli.client import ApiClient, credentials_from_tokens
from cli.connection import DEFAULT_URL, connect, normalise_url, store_of
from cli.errors import CliError
from cli.output import OutputOption


def login(
    *,
    url: str | None = None,
    username: Annotated[str | None, Parameter(name=["--username", "-u"])] = None,
    password_stdin: bool = False,
    output_format: OutputOption = "table",
) -> int:
    """Log in and store the token pair for the commands that follow.

    The password is prompted for (never an argument); the access and refresh
    tokens go to `$XDG_CONFIG_HOME/scheduler/credentials.json` (mode 0600) and are
    refreshed when the access token expires. `SCHEDULER_URL` and
    `SCHEDULER_API_KEY` in the environment override the stored login.

    **Examples**

    ```
    scheduler login                                  # http://127.0.0.1:8080
    scheduler login --url https://scheduler.example.com -u alice
    echo "$PASSWORD" | scheduler login -u deploy --password-stdin
    ```

    Parameters
    ----------
    url
        The API's base URL. Default: `SCHEDULER_URL`, else the last login's, else http://127.0.0.1:8080.
    username
        Prompted for when not given.
    password_stdin
        Read the password from the first line of standard input (for scripts).
    """
    store = store_of()
    previous = _previous_url()
    target = normalise_url(url or os.environ.get("SCHEDULER_URL", "") or previous or DEFAULT_URL)
    if username is None:
        if not sys.stdin.isatty():
            raise CliError("give --username when standard input is not a terminal")
        username = input("Username: ").strip()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("Password: ")
    else:
        raise CliError("no terminal to prompt for the password", hint="use --password-stdin")
    if not username or not password:
        raise CliError("a username and a password are needed")
    with ApiClient(target) as client:
        answer = client.request(
            "POST",
            "/api/auth/login",
            json={"username": username, "password": password},
            authenticated=False,
        )
    tokens = answer.data
    store.save(credentials_from_tokens(target, username, tokens, time.time()))
    user = tokens.get("user") or {}
    result = {
        "url": target,
        "username": username,
        "role": user.get("role"),
        "credentials": str(store.path),
    }
    output.emit(result, output_format, lambda: None)
    if output_format == "table":
        output.note(
            f"[green]✓[/] logged in to [bold]{target}[/] as [bold]{username}[/]"
            + (f" ({user['role']})" if user.get("role") else "")
        )
    return 0


def logout(*, output_format: OutputOption = "table") -> int:
    """Revoke the stored login on the server and remove it from this machine.

    **Examples**

    ```
    scheduler logout
    ```
    """
    store = store_of()
    credentials = store.load()
    if credentials is None:
        output.emit({"logged_out": False}, output_format, lambda: None)
        if output_format == "table":
            output.note("not logged in; nothing to do")
        return 0
    try:
        with connect(
            {**os.environ, "SCHEDULER_URL": credentials.url, "SCHEDULER_API_KEY": ""}
        ) as client:
            client.post("/api/auth/logout")
    finally:
        store.clear()
    output.emit({"logged_out": True, "url": credentials.url}, output_format, lambda: None)
    if output_format == "table":
        output.note(f"[green]✓[/] logged out of [bold]{credentials.url}[/]")
    return 0


def _previous_url() -> str | None:
    try:
        credentials = store_of().load()
    except CliError:
        return None
    return credentials.url if credentials else None
