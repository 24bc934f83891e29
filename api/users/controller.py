"""``/api/users``: user management, for Admins."""

from __future__ import annotations

from litestar import Controller, delete, get, patch, post

from api.auth.guards import requires
from api.auth.permissions import Permission
from api.body import StrictBody
from api.envelope import Envelope, ok
from api.openapi.responses import error_responses
from api.openapi.security import AUTHENTICATED
from api.pagination import Page, PageNumber, PageRequest, PageSize
from api.users.schemas import UserCreate, UserPatch, UserView
from api.users.service import UserService


class UserController(Controller):
    path = "/api/users"
    tags = ["users"]
    guards = [requires(Permission.ADMIN)]
    security = AUTHENTICATED

    @post(
        "/",
        status_code=201,
        dto=StrictBody[UserCreate],
        return_dto=None,
        responses=error_responses(403, 409),
        summary="Create a user",
    )
    async def create_user(self, data: UserCreate, user_service: UserService) -> Envelope[UserView]:
        return ok(await user_service.create(data))

    @get("/", responses=error_responses(403), summary="List users")
    async def list_users(
        self, user_service: UserService, page: PageNumber = 1, page_size: PageSize = 20
    ) -> Envelope[Page[UserView]]:
        return ok(await user_service.list(PageRequest.of(page, page_size)))

    @get("/{user_id:str}", responses=error_responses(403, 404), summary="Get a user")
    async def get_user(self, user_id: str, user_service: UserService) -> Envelope[UserView]:
        return ok(await user_service.get(user_id))

    @patch(
        "/{user_id:str}",
        dto=StrictBody[UserPatch],
        return_dto=None,
        responses=error_responses(403, 404, 409),
        summary="Change a user (a role change, deactivation or new password ends its sessions)",
    )
    async def patch_user(
        self, user_id: str, data: UserPatch, user_service: UserService
    ) -> Envelope[UserView]:
        return ok(await user_service.patch(user_id, data))

    @delete(
        "/{user_id:str}",
        status_code=200,
        responses=error_responses(403, 404, 409),
        summary="Delete a user (and its API keys)",
    )
    async def delete_user(self, user_id: str, user_service: UserService) -> Envelope[None]:
        await user_service.delete(user_id)
        return ok(None)
