"""The services Terrarium speaks: their botocore models and each one's vocabulary of errors.

Models are loaded once from botocore's bundled data. `ServiceInfo` carries what differs between services
for the same fault (an unknown key is `AuthFailure` 401 to EC2 but `InvalidClientTokenId` 403 to STS), so the
gateway states a fault once and each service answers it in its own words (reference/aws-spec.md §0).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from botocore.loaders import Loader
from botocore.model import ServiceModel

from runtime.api.protocols.base import Protocol
from runtime.api.protocols.json_protocols import JsonProtocol, RestJsonProtocol
from runtime.api.protocols.query import Ec2Protocol, QueryProtocol
from runtime.api.protocols.rest_xml import RestXmlProtocol

Fault = tuple[str, int]  # (AWS error code, HTTP status)


@dataclass(frozen=True)
class ServiceInfo:
    name: str                  # botocore service name, also the SigV4 signing name
    unknown_key: Fault
    bad_signature: Fault
    missing_auth: Fault
    expired_token: Fault
    skewed: Fault
    denied: Fault
    missing_param: str
    invalid_param: str
    constraint: str
    unknown_param: str | None = None  # EC2 rejects parameters it does not know
    global_region: str | None = None  # IAM signs with us-east-1 whatever the caller's region


SERVICES: dict[str, ServiceInfo] = {info.name: info for info in (
    ServiceInfo("ec2", ("AuthFailure", 401), ("SignatureDoesNotMatch", 403), ("MissingAuthenticationToken", 401),
                ("RequestExpired", 400), ("RequestExpired", 400), ("UnauthorizedOperation", 403),
                "MissingParameter", "InvalidParameterValue", "InvalidParameterValue", "UnknownParameter"),
    ServiceInfo("iam", ("InvalidClientTokenId", 403), ("SignatureDoesNotMatch", 403),
                ("MissingAuthenticationToken", 403), ("ExpiredToken", 403), ("SignatureDoesNotMatch", 403),
                ("AccessDenied", 403), "ValidationError", "ValidationError", "ValidationError",
                global_region="us-east-1"),
    ServiceInfo("sts", ("InvalidClientTokenId", 403), ("SignatureDoesNotMatch", 403),
                ("MissingAuthenticationToken", 403), ("ExpiredToken", 403), ("SignatureDoesNotMatch", 403),
                ("AccessDenied", 403), "ValidationError", "ValidationError", "ValidationError"),
    ServiceInfo("lambda", ("UnrecognizedClientException", 403), ("InvalidSignatureException", 403),
                ("MissingAuthenticationTokenException", 403), ("ExpiredTokenException", 403),
                ("InvalidSignatureException", 403), ("AccessDeniedException", 403),
                "ValidationException", "InvalidParameterValueException", "ValidationException"),
    ServiceInfo("logs", ("UnrecognizedClientException", 400), ("InvalidSignatureException", 400),
                ("MissingAuthenticationTokenException", 400), ("ExpiredTokenException", 400),
                ("InvalidSignatureException", 400), ("AccessDeniedException", 400),
                "InvalidParameterException", "InvalidParameterException", "InvalidParameterException"),
    ServiceInfo("s3", ("InvalidAccessKeyId", 403), ("SignatureDoesNotMatch", 403), ("AccessDenied", 403),
                ("ExpiredToken", 400), ("RequestTimeTooSkewed", 403), ("AccessDenied", 403),
                "InvalidRequest", "InvalidArgument", "InvalidArgument"),
)}

PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (
    QueryProtocol(), Ec2Protocol(), JsonProtocol(), RestJsonProtocol(), RestXmlProtocol())}

_LOADER = Loader()


@cache
def service_model(name: str) -> ServiceModel:
    return ServiceModel(_LOADER.load_service_model(name, "service-2"), service_name=name)


def protocol_for(model: ServiceModel) -> Protocol:
    return PROTOCOLS[model.protocol]


@cache
def api_versions() -> dict[str, str]:
    """Query-protocol `Version=` values to service names, for unsigned requests."""
    return {service_model(n).api_version: n for n, info in SERVICES.items()
            if service_model(n).protocol in ("query", "ec2")}


@cache
def json_targets() -> dict[str, str]:
    """awsJson `X-Amz-Target` prefixes to service names, for unsigned requests."""
    return {service_model(n).metadata["targetPrefix"]: n for n in SERVICES
            if service_model(n).protocol == "json"}
