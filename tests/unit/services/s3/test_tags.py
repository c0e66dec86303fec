"""S3 tag-set rules."""

from __future__ import annotations

import pytest

from runtime.errors import AwsError
from runtime.services.s3.tags import check_tag_set, check_tagging_header


def tags(n: int, key=lambda i: f"k{i}", value=lambda i: "v") -> list[dict]:
    return [{"Key": key(i), "Value": value(i)} for i in range(n)]


@pytest.mark.parametrize(("tag_set", "on_bucket", "code"), [
    (tags(11), False, "BadRequest"),
    (tags(51), True, "BadRequest"),
    (tags(2, key=lambda i: "same"), False, "InvalidTag"),
    (tags(1, key=lambda i: "k" * 129), True, "InvalidTag"),
    (tags(1, value=lambda i: "v" * 257), False, "InvalidTag"),
    (tags(1, key=lambda i: "AWS:cost"), False, "InvalidTag"),
    (tags(1, key=lambda i: ""), True, "InvalidTag"),
])
def test_bad_tag_sets(tag_set, on_bucket, code):
    with pytest.raises(AwsError) as caught:
        check_tag_set(tag_set, on_bucket=on_bucket)
    assert caught.value.code == code and caught.value.status == 400


def test_good_tag_sets_and_headers_pass():
    check_tag_set(tags(10), on_bucket=False)
    check_tag_set(tags(50, value=lambda i: "v" * 256), on_bucket=True)
    check_tagging_header("a=1&b=&c=%20x")
    check_tagging_header("")


@pytest.mark.parametrize("header", ["=v", "&".join(f"k{i}=v" for i in range(11)), "a=1&a=2", "%80", "k=%ff"])
def test_bad_tagging_headers(header):
    with pytest.raises(AwsError):
        check_tagging_header(header)
