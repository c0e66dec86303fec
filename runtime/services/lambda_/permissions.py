"""AddPermission, RemovePermission, GetPolicy: the function's resource policy, one per qualifier.

Statements are kept in the function record (`Policy` {qualifier or $LATEST: [statement]}) in IAM's JSON
form, and the IAM engine evaluates them through `resource_policy()` (the authorizer's per-provider hook),
so a principal named here — another account, a service such as s3.amazonaws.com — may invoke the function.
"""

from __future__ import annotations

import json
import re

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import AwsError
from runtime.services._shared import ids
from runtime.services.lambda_ import naming, shapes
from runtime.services.lambda_.errors import conflict, invalid, not_found, precondition
from runtime.services.lambda_.naming import LATEST
from runtime.services.lambda_.service import LambdaService, policy_document

ACCOUNT = re.compile(r"^\d{12}$")
MAX_POLICY_BYTES = 20 * 1024


def principal_element(principal: str):
    if principal == "*":
        return "*"
    if principal.endswith(".amazonaws.com") or principal.endswith(".amazon.com"):
        return {"Service": principal}
    if ACCOUNT.match(principal):
        return {"AWS": f"arn:aws:iam::{principal}:root"}
    return {"AWS": principal}


def statement(params: dict, resource: str) -> dict:
    action = params["Action"]
    if not re.match(r"^(lambda:[*]|lambda:[a-zA-Z]+|[*])$", action):
        raise invalid(f"The action {action} is not supported.")
    out = {"Sid": params["StatementId"], "Effect": "Allow", "Principal": principal_element(params["Principal"]),
           "Action": action, "Resource": resource}
    condition: dict = {}
    if params.get("SourceAccount"):
        condition.setdefault("StringEquals", {})["AWS:SourceAccount"] = params["SourceAccount"]
    if params.get("PrincipalOrgID"):
        condition.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = params["PrincipalOrgID"]
    if params.get("FunctionUrlAuthType"):
        condition.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = params["FunctionUrlAuthType"]
    if params.get("EventSourceToken"):
        condition.setdefault("StringEquals", {})["lambda:EventSourceToken"] = params["EventSourceToken"]
    if params.get("SourceArn"):
        condition["ArnLike"] = {"AWS:SourceArn": params["SourceArn"]}
    if condition:
        out["Condition"] = condition
    return out


class PermissionsProvider:
    def __init__(self, service: LambdaService) -> None:
        self.service = service
        self.store = service.store

    def resource_policy(self, ctx: RequestContext, arn: str):
        return self.service.resource_policy(ctx, arn)

    def _function(self, ctx: RequestContext, params: dict):
        ref = naming.from_params(ctx, params)
        target = self.service.target(ref)  # the qualifier must name a version or alias that exists
        return ref, target.function

    @operation("AddPermission", resources=naming.resources)
    def add_permission(self, ctx: RequestContext, params: dict) -> dict:
        ref, function = self._function(ctx, params)
        if params.get("RevisionId") and params["RevisionId"] != function.spec["RevisionId"]:
            raise precondition()
        qualifier = ref.qualifier or LATEST
        new = statement(params, ref.qualified_arn)
        with self.store.transaction():
            policies = self.store.get(shapes.FUNCTION, function.id).spec.get("Policy", {})
            current = policies.get(qualifier, [])
            if any(s["Sid"] == new["Sid"] for s in current):
                raise conflict(f"The statement id ({new['Sid']}) provided already exists. Please provide a new "
                               "statement id, or remove the existing statement.")
            updated = current + [new]
            if len(json.dumps(policy_document(updated))) > MAX_POLICY_BYTES:
                raise AwsError("PolicyLengthExceededException", "The final policy size is bigger than the limit.")
            self.store.update_spec(shapes.FUNCTION, function.id, lambda s: {
                **s, "Policy": {**s.get("Policy", {}), qualifier: updated}, "RevisionId": ids.new_revision_id()})
        return {"Statement": json.dumps(new)}

    @operation("RemovePermission", resources=naming.resources)
    def remove_permission(self, ctx: RequestContext, params: dict) -> dict:
        ref, function = self._function(ctx, params)
        if params.get("RevisionId") and params["RevisionId"] != function.spec["RevisionId"]:
            raise precondition()
        qualifier = ref.qualifier or LATEST
        sid = params["StatementId"]
        current = function.spec.get("Policy", {}).get(qualifier, [])
        if not any(s["Sid"] == sid for s in current):
            raise not_found(f"Statement {sid} is not found in resource policy.")
        kept = [s for s in current if s["Sid"] != sid]
        self.store.update_spec(shapes.FUNCTION, function.id, lambda s: {
            **s, "Policy": {**s.get("Policy", {}), qualifier: kept}, "RevisionId": ids.new_revision_id()})
        return {}

    @operation("GetPolicy", resources=naming.resources)
    def get_policy(self, ctx: RequestContext, params: dict) -> dict:
        ref, function = self._function(ctx, params)
        statements = function.spec.get("Policy", {}).get(ref.qualifier or LATEST)
        if not statements:
            raise not_found("The resource you requested does not exist.")
        return {"Policy": json.dumps(policy_document(statements)), "RevisionId": function.spec["RevisionId"]}

