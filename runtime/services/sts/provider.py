"""STS: who am I. AssumeRole and session tokens arrive with IAM (issue 3)."""

from __future__ import annotations

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation


class StsProvider:
    @operation("GetCallerIdentity", resources=lambda ctx, params: ["*"])
    def get_caller_identity(self, ctx: RequestContext, params: dict) -> dict:
        principal = ctx.principal
        return {"UserId": principal.user_id, "Account": principal.account, "Arn": principal.arn}
