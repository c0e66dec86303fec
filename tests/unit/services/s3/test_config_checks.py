"""Lifecycle and website configurations S3 refuses."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from runtime.errors import AwsError
from runtime.services.s3.config_checks import check_lifecycle, check_website


def rule(**fields) -> dict:
    return {"ID": fields.pop("ID", "r"), "Status": "Enabled", "Filter": {"Prefix": ""}, **fields}


MIDNIGHT = datetime(2030, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(("rules", "code"), [
    ([rule(Expiration={"Days": 0})], "InvalidArgument"),
    ([rule(Expiration={"Days": 1}), rule(Expiration={"Days": 2})], "InvalidArgument"),
    ([rule(ID="x" * 256, Expiration={"Days": 1})], "InvalidArgument"),
    ([rule()], "InvalidRequest"),
    ([rule(Expiration={"Days": 1, "Date": MIDNIGHT})], "MalformedXML"),
    ([rule(Expiration={"Date": MIDNIGHT.replace(hour=5)})], "InvalidArgument"),
    ([rule(NoncurrentVersionExpiration={"NoncurrentDays": 0})], "InvalidArgument"),
    ([rule(Transitions=[{"Days": 10, "StorageClass": "STANDARD_IA"}])], "InvalidArgument"),
    ([rule(AbortIncompleteMultipartUpload={"DaysAfterInitiation": 0})], "InvalidArgument"),
])
def test_refused_lifecycle_rules(rules, code):
    with pytest.raises(AwsError) as caught:
        check_lifecycle({"Rules": rules})
    assert caught.value.code == code


def test_accepted_lifecycle_rules():
    check_lifecycle({"Rules": [rule(ID="a", Expiration={"Days": 1}),
                               rule(ID="b", Expiration={"Date": MIDNIGHT}),
                               rule(ID="c", Transitions=[{"Days": 0, "StorageClass": "GLACIER"}]),
                               rule(ID="d", Expiration={"ExpiredObjectDeleteMarker": True})]})


@pytest.mark.parametrize("config", [{"ErrorDocument": {"Key": "e.html"}}, {"IndexDocument": {"Suffix": ""}},
                                    {"IndexDocument": {"Suffix": "a/index.html"}}])
def test_refused_websites(config):
    with pytest.raises(AwsError) as caught:
        check_website(config)
    assert caught.value.code == "InvalidArgument"


def test_accepted_websites():
    check_website({"IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "err/404.html"}})
    check_website({"RedirectAllRequestsTo": {"HostName": "example.com"}})
