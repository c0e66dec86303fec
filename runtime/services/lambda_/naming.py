"""FunctionName forms (name, `name:qualifier`, partial `account:function:name[:q]`, full ARN) and ARNs.

Every operation resolves its FunctionName here, so all of them accept the same forms and reject a
qualifier given twice (in the name and in `Qualifier`) that disagrees, as AWS does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runtime.api.context import RequestContext
from runtime.errors import AwsError
from runtime.services._shared import arns
from runtime.services.lambda_.errors import invalid

NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
QUALIFIER = re.compile(r"^(\$LATEST|[0-9]+|[a-zA-Z0-9_-]+)$")
LATEST = "$LATEST"


@dataclass(frozen=True)
class FunctionRef:
    region: str
    account: str
    name: str
    qualifier: str | None

    @property
    def arn(self) -> str:
        """The unqualified ARN: the id of the `lambda.function` record."""
        return arns.lambda_function_arn(self.region, self.account, self.name)

    @property
    def qualified_arn(self) -> str:
        return arns.lambda_function_arn(self.region, self.account, self.name, self.qualifier)


def parse(region: str, account: str, function_name: str, qualifier: str | None = None) -> FunctionRef:
    """Resolve any accepted FunctionName form; InvalidParameterValueException if malformed."""
    text = function_name
    if text.startswith("arn:"):
        try:
            found = arns.parse_lambda_function_arn(text)
        except ValueError:
            raise invalid(f"Invalid function name or ARN: {function_name}") from None
        region, account, name, inline = found.region or region, found.account or account, found.name, found.qualifier
    else:
        parts = text.split(":")
        if len(parts) >= 3 and parts[1] == "function":
            account, parts = parts[0], parts[2:]
        if len(parts) > 2:
            raise invalid(f"Invalid function name or ARN: {function_name}")
        name, inline = parts[0], (parts[1] if len(parts) == 2 else None)
    if not NAME.match(name):
        raise invalid(f"Invalid function name or ARN: {function_name}")
    if inline is not None and qualifier is not None and inline != qualifier:
        raise invalid("The derived qualifier from the function name does not match the specified qualifier.")
    qualifier = qualifier if qualifier is not None else inline
    if qualifier is not None and not QUALIFIER.match(qualifier):
        raise invalid(f"Invalid qualifier: {qualifier}")
    return FunctionRef(region, account, name, qualifier)


def from_params(ctx: RequestContext, params: dict) -> FunctionRef:
    return parse(ctx.region, ctx.account, params["FunctionName"], params.get("Qualifier"))


def resources(ctx: RequestContext, params: dict) -> list[str]:
    """IAM resource of an operation on one function (qualified when a qualifier is given)."""
    try:
        return [from_params(ctx, params).qualified_arn]
    except AwsError:  # a malformed name is reported by the operation itself
        return ["*"]
