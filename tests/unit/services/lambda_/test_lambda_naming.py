"""FunctionName forms and qualifiers."""

import pytest

from runtime.errors import AwsError
from runtime.services.lambda_.naming import parse

ACCOUNT = "123456789012"


@pytest.mark.parametrize("text, qualifier, expected", [
    ("f", None, ("f", None)),
    ("f:live", None, ("f", "live")),
    ("f", "3", ("f", "3")),
    (f"{ACCOUNT}:function:f", None, ("f", None)),
    (f"{ACCOUNT}:function:f:$LATEST", None, ("f", "$LATEST")),
    (f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f", None, ("f", None)),
    (f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f:2", "2", ("f", "2")),
])
def test_accepted_forms(text, qualifier, expected):
    ref = parse("us-east-1", ACCOUNT, text, qualifier)
    assert (ref.name, ref.qualifier) == expected
    assert ref.arn == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"


@pytest.mark.parametrize("text, qualifier", [("bad name", None), ("f:1", "2"), ("a:b:c:d", None),
                                             ("arn:aws:s3:::bucket", None), ("x" * 65, None)])
def test_rejected_forms(text, qualifier):
    with pytest.raises(AwsError) as info:
        parse("us-east-1", ACCOUNT, text, qualifier)
    assert info.value.code == "InvalidParameterValueException"


def test_qualified_arn():
    assert parse("eu-west-1", ACCOUNT, "f", "live").qualified_arn == \
        f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:f:live"
