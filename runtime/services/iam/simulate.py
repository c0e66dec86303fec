"""SimulatePrincipalPolicy and SimulateCustomPolicy: the engine's decisions, with the statements behind them."""

from __future__ import annotations

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.iam import policy as engine
from runtime.iam.authorizer import parsed
from runtime.services._shared import arns
from runtime.services.iam import resources as res
from runtime.services.iam import shapes
from runtime.services.iam.directory import ENTITY_KINDS, IamDirectory
from runtime.services.iam.errors import check_document, invalid_input
from runtime.state import Store


def _position(span: tuple[int, int, int, int] | None) -> dict:
    if span is None:
        return {}
    return {"StartPosition": {"Line": span[0], "Column": span[1]}, "EndPosition": {"Line": span[2], "Column": span[3]}}


def _result(result: engine.SimulationResult) -> dict:
    out = {"EvalActionName": result.action, "EvalResourceName": result.resource,
           "EvalDecision": result.eval_decision,
           "MatchedStatements": [{"SourcePolicyId": m.source_policy_id, "SourcePolicyType": m.source_policy_type,
                                  **_position(m.span)} for m in result.matched_statements],
           "MissingContextValues": list(result.missing_context_values)}
    if result.allowed_by_permissions_boundary is not None:
        out["PermissionsBoundaryDecisionDetail"] = {
            "AllowedByPermissionsBoundary": result.allowed_by_permissions_boundary}
    return out


def _inputs(documents: list[str], source: str, kind: engine.PolicyKind = "identity") -> list[engine.Policy]:
    return [parsed(check_document(text, kind), kind).with_source(f"{source}.{index}", "none")
            for index, text in enumerate(documents, 1)]


class SimulationProvider:
    def __init__(self, store: Store, directory: IamDirectory) -> None:
        self.store = store
        self.directory = directory

    def _run(self, ctx: RequestContext, params: dict, principal_arn: str, identity: list[engine.Policy],
             boundary: engine.Policy | None) -> dict:
        boundaries = _inputs(params.get("PermissionsBoundaryPolicyInputList", []), "PermissionsBoundaryPolicyInputList")
        if boundaries:
            boundary = boundaries[0]
        resource_policy = None
        if params.get("ResourcePolicy"):
            resource_policy = parsed(check_document(params["ResourcePolicy"], "resource"), "resource").with_source(
                "ResourcePolicy", "resource")
        results = engine.simulate(principal_arn=params.get("CallerArn") or principal_arn, account_id=ctx.account,
                                  actions=params["ActionNames"], resources=params.get("ResourceArns") or ["*"],
                                  identity_policies=identity, resource_policy=resource_policy,
                                  permissions_boundary=boundary,
                                  keys=engine.context_from_entries(params.get("ContextEntries", [])))
        return shapes.page([_result(r) for r in results], params, "EvaluationResults")

    @operation("SimulatePrincipalPolicy", resources=res.source)
    def simulate_principal_policy(self, ctx: RequestContext, params: dict) -> dict:
        source = params["PolicySourceArn"]
        try:
            resource = arns.parse_iam_arn(source)
        except ValueError:
            raise invalid_input(f"Invalid ARN: {source}") from None
        kind = ENTITY_KINDS.get(resource.resource_type)
        if kind is None or resource.account != ctx.account:
            raise invalid_input(f"Invalid ARN: {source}")
        record = self.directory.get(kind, ctx.account, resource.name, resource.resource_type)
        identity = (self.directory.user_policies(record) if resource.resource_type == "user"
                    else self.directory.entity_policies(record))
        identity += _inputs(params.get("PolicyInputList", []), "PolicyInputList")
        return self._run(ctx, params, record.spec["Arn"], identity, self.directory.boundary(record))

    @operation("SimulateCustomPolicy", resources=res.anything)
    def simulate_custom_policy(self, ctx: RequestContext, params: dict) -> dict:
        identity = _inputs(params["PolicyInputList"], "PolicyInputList")
        return self._run(ctx, params, f"arn:aws:iam::{ctx.account}:user/simulated", identity, None)
