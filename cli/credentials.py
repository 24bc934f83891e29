"""The stored login: ``$XDG_CONFIG_HOME/scheduler/credentials.json``, mode 0600.

It holds one server's URL and its token pair. Writes are atomic (a new file
renamed over the old one) and refreshes are serialised with a lock file, so
two commands running at once never both spend the same refresh token (the
API revokes the whole login when a spent refresh token comes back).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from cli.errors import CliError

FILE_MODE = 0o600
DIR_MODE = 0o700


@dataclass(frozen=True)
class Credentials:
    url: str
    username: str
    access_token: str
    refresh_token: str
    access_expires_at: float
    """Epoch seconds after which the access token is refreshed before use."""


def config_dir(env: Mapping[str, str]) -> Path:
    """``$XDG_CONFIG_HOME/scheduler``, or ``~/.config/scheduler`` when it is unset or empty."""
    base = env.get("XDG_CONFIG_HOME", "").strip()
    root = Path(base) if base else Path(env.get("HOME") or Path.home()) / ".config"
    return root / "scheduler"


class CredentialStore:
    """The credentials file of one config directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "credentials.json"

    def load(self) -> Credentials | None:
        """The stored login, or ``None`` when there is none; a damaged file is a ``CliError``."""
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CliError(f"cannot read {self.path}: {exc.strerror}") from exc
        try:
            data = json.loads(raw)
            return Credentials(
                url=str(data["url"]),
                username=str(data["username"]),
                access_token=str(data["access_token"]),
                refresh_token=str(data["refresh_token"]),
                access_expires_at=float(data["access_expires_at"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise CliError(
                f"{self.path} is not a credentials file this command wrote",
                hint="run `scheduler login` to replace it",
            ) from exc

    def save(self, credentials: Credentials) -> None:
        """Write atomically with mode 0600 (the directory 0700); never readable by others."""
        self.directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            # O_CREAT's mode is filtered by the umask and ignored for a file left behind.
            os.fchmod(fd, FILE_MODE)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(asdict(credentials), handle, indent=2)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            raise

    def clear(self) -> bool:
        """Remove the stored login; whether there was one."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's lock (a sibling ``.lock`` file) for a read-refresh-write."""
        self.directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        fd = os.open(self.directory / "credentials.lock", os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)
