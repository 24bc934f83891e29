"""Start the REST API (uvicorn) with settings from the environment."""

from __future__ import annotations

import data_dir
from api.app import create_app, stop_run_waits
from api.http_server import serve
from logging_setup import configure_logging
from settings import Settings


def main() -> None:
    settings = Settings.from_env()
    configure_logging(settings.log_format)
    data_dir.keep_private(settings.data_dir)
    app = create_app(settings)
    serve(app, settings, on_stop=lambda: stop_run_waits(app))


if __name__ == "__main__":
    main()
