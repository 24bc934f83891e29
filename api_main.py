"""Start the REST API (uvicorn) with settings from the environment."""

from __future__ import annotations

import uvicorn

import data_dir
from api.app import create_app
from api.http_server import server_options
from logging_setup import configure_logging
from settings import Settings


def main() -> None:
    settings = Settings.from_env()
    configure_logging(settings.log_format)
    data_dir.keep_private(settings.data_dir)
    uvicorn.run(create_app(settings), log_level="info", **server_options(settings))


if __name__ == "__main__":
    main()
