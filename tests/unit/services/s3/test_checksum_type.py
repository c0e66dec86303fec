from runtime.services.s3.checksum_type import with_checksum_type


def test_a_bare_checksum_is_of_the_full_object_and_a_counted_one_composite():
    whole = {"x-amz-checksum-crc32": "NhCmhg=="}
    parts = {"X-Amz-Checksum-Sha256": "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=-3"}
    with_checksum_type(whole)
    with_checksum_type(parts)
    assert (whole["x-amz-checksum-type"], parts["x-amz-checksum-type"]) == ("FULL_OBJECT", "COMPOSITE")


def test_a_named_type_stays_and_no_checksum_gets_no_type():
    named, plain = {"x-amz-checksum-crc32": "NhCmhg==", "X-Amz-Checksum-Type": "COMPOSITE"}, {"ETag": '"x"'}
    with_checksum_type(named)
    with_checksum_type(plain)
    assert named["X-Amz-Checksum-Type"] == "COMPOSITE" and "x-amz-checksum-type" not in named
    assert plain == {"ETag": '"x"'}
    mode = {"x-amz-checksum-mode": "ENABLED"}
    with_checksum_type(mode)
    assert mode == {"x-amz-checksum-mode": "ENABLED"}
