"""The AMIs built on this host appear through DescribeImages (needs the Docker engine and built images)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.host


def test_debian_amis_are_described(server):
    ec2 = server.client("ec2")
    images = ec2.describe_images(Owners=["136693071363"])["Images"]
    names = {i["Name"].split("-amd64-")[0] for i in images}
    assert {"debian-12", "debian-13"} <= names
    debian = next(i for i in images if i["Name"].startswith("debian-12-"))
    assert debian["ImageId"].startswith("ami-") and len(debian["ImageId"]) == 21
    assert debian["State"] == "available" and debian["RootDeviceName"] == "/dev/xvda"
    by_id = ec2.describe_images(ImageIds=[debian["ImageId"]])["Images"]
    assert [i["ImageId"] for i in by_id] == [debian["ImageId"]]
    filtered = ec2.describe_images(Filters=[{"Name": "name", "Values": ["debian-12-*"]}])["Images"]
    assert debian["ImageId"] in {i["ImageId"] for i in filtered}
    assert all(i["Name"].startswith("debian-12-") for i in filtered)
    with pytest.raises(ClientError) as info:
        ec2.describe_images(ImageIds=["ami-00000000000000000"])
    assert info.value.response["Error"]["Code"] == "InvalidAMIID.NotFound"
    with pytest.raises(ClientError) as info:
        ec2.describe_images(ImageIds=["nonsense"])
    assert info.value.response["Error"]["Code"] == "InvalidAMIID.Malformed"
