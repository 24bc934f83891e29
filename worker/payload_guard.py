"""Executors refuse an activity whose input has no valid signature, before anything runs."""

from __future__ import annotations

import logging
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from workflows.data_converter import RejectedPayload
from workflows.payload_codec import UNSIGNED_PAYLOAD

log = logging.getLogger(__name__)


class _RefuseRejected(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        refused = [arg for arg in input.args if isinstance(arg, RejectedPayload)]
        if refused:
            info = activity.info()
            log.error(
                "refused activity %s (workflow %s, attempt %d): its input was refused (%s); "
                "nothing was run",
                info.activity_type,
                info.workflow_id,
                info.attempt,
                refused[0].reason,
            )
            raise ApplicationError(
                f"refused: the activity's input was refused ({refused[0].reason}); only the "
                "scheduler's own processes, which hold SCHEDULER_PAYLOAD_KEY, can start work",
                type=UNSIGNED_PAYLOAD,
                non_retryable=True,
            )
        return await self.next.execute_activity(input)


class PayloadGuard(Interceptor):
    """Fails, non-retryably, any activity whose input the signing codec refused."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _RefuseRejected(next)
