"""Start the REST API (uvicorn) with settings from the environment."""

from __future__ import annotations

import uvicorn

import data_dir
from api.app import create_app
from logging_setup import configure_logging
from settings import Settings


def main() -> None:
    settings = Settings.from_env()
    configure_logging(settings.log_format)
    data_dir.keep_private(settings.data_dir)
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level="info",
        # The C parser (and uvloop, which "auto" picks): h11 in pure Python
        # cost more CPU per request than most handlers.
        http="httptools",
        access_log=False,  # the app logs one line per request itself
        log_config=None,  # keep the process's logging (text or JSON) for uvicorn's lines
        timeout_graceful_shutdown=30,
        # Longer than the idle timeout of common load balancers and clients'
        # pools (60 s), so the server is never the side that closes a
        # keep-alive connection a client is about to reuse.
        timeout_keep_alive=75,
    )


if __name__ == "__main__":
    main()
