"""Lambda's AWS errors, with the codes, statuses and messages the service uses."""

from __future__ import annotations

from runtime.errors import AwsError


def invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterValueException", message)


def not_found(message: str) -> AwsError:
    return AwsError("ResourceNotFoundException", message, 404)


def function_not_found(arn: str) -> AwsError:
    return not_found(f"Function not found: {arn}")


def conflict(message: str) -> AwsError:
    return AwsError("ResourceConflictException", message, 409)


def precondition(message: str = "The Revision Id provided does not match the latest Revision Id. "
                                "Call the GetFunction/GetAlias API to retrieve the latest Revision Id") -> AwsError:
    return AwsError("PreconditionFailedException", message, 412)


def too_large(limit: int) -> AwsError:
    return AwsError("RequestEntityTooLargeException",
                    f"Request must be smaller than {limit} bytes for the InvokeFunction operation", 413)


RETRY_AFTER_S = 1


def throttled(reason: str, message: str = "Rate Exceeded.") -> AwsError:
    """A sync throttle as AWS sends it: 429, `Retry-After` (the model's `retryAfterSeconds` header), the body's
    `Type`, `message` and `Reason` (ReservedFunctionConcurrentInvocationLimitExceeded or
    ConcurrentInvocationLimitExceeded)."""
    return AwsError("TooManyRequestsException", message, 429, Reason=reason,
                    retryAfterSeconds=str(RETRY_AFTER_S))


def service_error(message: str) -> AwsError:
    return AwsError("ServiceException", message, 500, sender_fault=False)
