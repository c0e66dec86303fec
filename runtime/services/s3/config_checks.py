"""What PutBucketLifecycleConfiguration and PutBucketWebsite refuse before storing, as S3 does: the model
states shapes, not these rules, and a rule stored here would otherwise be acted on (lifecycle) or served
(website) as given."""

from __future__ import annotations

from runtime.errors import AwsError
from runtime.services.s3.names import malformed_xml

_ACTIONS = ("Expiration", "Transitions", "NoncurrentVersionExpiration", "NoncurrentVersionTransitions",
            "AbortIncompleteMultipartUpload")


def check_lifecycle(config: dict) -> None:
    ids: set[str] = set()
    for rule in config.get("Rules") or []:
        rule_id = rule.get("ID") or ""
        if len(rule_id) > 255:
            raise _invalid("ID length should not exceed allowed limit of 255")
        if rule_id and rule_id in ids:
            raise _invalid("Rule ID must be unique. Found same ID for more than one rule")
        ids.add(rule_id)
        if not any(rule.get(action) for action in _ACTIONS):
            raise AwsError("InvalidRequest", "At least one action needs to be specified in a rule", 400)
        expiration = rule.get("Expiration") or {}
        if expiration.get("Days") is not None and expiration.get("Date") is not None:
            raise malformed_xml()
        _positive(expiration.get("Days"), "'Days' for Expiration action")
        _midnight(expiration.get("Date"))
        _positive((rule.get("NoncurrentVersionExpiration") or {}).get("NoncurrentDays"),
                  "'NoncurrentDays' for NoncurrentVersionExpiration action")
        _positive((rule.get("AbortIncompleteMultipartUpload") or {}).get("DaysAfterInitiation"),
                  "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action")
        for transition in rule.get("Transitions") or []:
            if transition.get("Days") is not None and transition["Days"] < 0:
                raise _invalid("'Days' in Transition action must be nonnegative")
            _midnight(transition.get("Date"))
            if transition.get("StorageClass") in ("STANDARD_IA", "ONEZONE_IA") and \
                    transition.get("Days") is not None and transition["Days"] < 30:
                raise _invalid(f"'Days' in Transition action must be greater than or equal to 30 for storageClass "
                               f"'{transition['StorageClass']}'")


def check_website(config: dict) -> None:
    for rule in config.get("RoutingRules") or []:
        code = (rule.get("Redirect") or {}).get("HttpRedirectCode")
        if code is not None and not (code.isdigit() and 300 < int(code) < 400):
            raise _invalid(f"The provided HTTP redirect code ({code}) is not valid. Valid codes are 3XX except 300.")
    if config.get("RedirectAllRequestsTo"):
        return
    suffix = (config.get("IndexDocument") or {}).get("Suffix")
    if suffix is None:
        raise _invalid("A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty")
    if not suffix or "/" in suffix:
        raise _invalid("The IndexDocument Suffix is not well formed")


def _positive(days, what: str) -> None:
    if days is not None and days <= 0:
        raise _invalid(f"{what} must be a positive integer")


def _midnight(date) -> None:
    if date is not None and (date.hour, date.minute, date.second, date.microsecond) != (0, 0, 0, 0):
        raise _invalid("'Date' must be at midnight GMT")


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidArgument", message, 400)
