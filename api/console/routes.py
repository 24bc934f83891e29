"""Everything the console serves: its pages under ``/ui``, its assets, and ``/`` sending there."""

from __future__ import annotations

from pathlib import Path

from litestar import Router, get
from litestar.di import Provide
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from api.console.access import provide_session_principal
from api.console.errors import console_exception
from api.console.forms import provide_form
from api.console.pages.run import RunController
from api.console.pages.sign_in import HOME, SignInController
from api.console.pages.system import SystemController
from api.console.pages.task import TaskController
from api.console.pages.task_edit import SchedulePreviewController, TaskFormController
from api.console.pages.tasks import TasksController
from api.console.pages.workers import WorkersController
from api.console.session import CONSOLE_PATH, STATIC_PATH

STATIC = Path(__file__).parent / "static"

PAGES: list[ControllerRouterHandler] = [
    SignInController,
    TasksController,
    WorkersController,
    SystemController,
    TaskFormController,
    SchedulePreviewController,
    TaskController,
    RunController,
]
"""The console's controllers; a new page is one more entry (see CONSOLE_CONTRACT.md)."""


@get("/", include_in_schema=False)
async def root() -> Redirect:
    return Redirect(path=CONSOLE_PATH, status_code=302)


@get("/", include_in_schema=False)
async def console_home() -> Redirect:
    return Redirect(path=HOME, status_code=302)


def console_routes() -> list[ControllerRouterHandler]:
    """The route handlers to mount on the app: the ``/ui`` router, its assets, the root."""
    pages = Router(
        path=CONSOLE_PATH,
        route_handlers=[console_home, *PAGES],
        include_in_schema=False,
        exception_handlers={Exception: console_exception},
        dependencies={
            "principal": Provide(provide_session_principal, sync_to_thread=False),
            "form": Provide(provide_form),
        },
    )
    assets = create_static_files_router(
        path=STATIC_PATH.rstrip("/"), directories=[STATIC], include_in_schema=False
    )
    return [root, pages, assets]
