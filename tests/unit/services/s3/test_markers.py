"""A delimited listing resumes past the common prefix its marker falls under, as S3 does."""

from runtime.services.s3.markers import PAST, resume_past_prefixes, rolled_up_prefix, token_past_prefix


def test_the_prefix_a_marker_rolls_up_into():
    assert rolled_up_prefix("-/a", "", "a") == "-/a"
    assert rolled_up_prefix("x/abc", "", "/") == "x/"
    assert rolled_up_prefix("logs/2026/01", "logs/", "/") == "logs/2026/"
    assert rolled_up_prefix("plain", "", "/") is None
    assert rolled_up_prefix("other/x", "logs/", "/") is None
    assert rolled_up_prefix("x/abc", "", "") is None


def test_markers_move_past_their_prefix_and_nothing_else_does():
    query = [("prefix", ""), ("delimiter", "a"), ("start-after", "-/a"), ("continuation-token", "-/a"),
             ("max-keys", "1")]
    assert resume_past_prefixes(query) == [("prefix", ""), ("delimiter", "a"), ("start-after", "-/a" + PAST),
                                           ("continuation-token", "-/a"), ("max-keys", "1")]
    assert resume_past_prefixes([("delimiter", "/"), ("marker", "k")]) == [("delimiter", "/"), ("marker", "k")]
    assert resume_past_prefixes([("delimiter", "/"), ("key-marker", "d/k")]) == [("delimiter", "/"),
                                                                                 ("key-marker", "d/" + PAST)]


def page(token: str, prefixes: list[str], truncated: bool = True) -> bytes:
    listed = "".join(f"<CommonPrefixes><Prefix>{p}</Prefix></CommonPrefixes>" for p in prefixes)
    return (f"<ListBucketResult><IsTruncated>{'true' if truncated else 'false'}</IsTruncated>{listed}"
            f"<NextContinuationToken>{token}</NextContinuationToken></ListBucketResult>").encode()


def test_a_token_naming_a_listed_prefix_is_moved():
    assert token_past_prefix(page("-/a", ["-/a"]), False) == page("-/a" + PAST, ["-/a"])
    assert token_past_prefix(page("a&amp;b/", ["a%26b/"]), True) == page("a&amp;b/" + PAST, ["a%26b/"])
    opaque = page("bWluaW8tdG9rZW4=", ["-/a"])
    assert token_past_prefix(opaque, False) == opaque
    assert token_past_prefix(page("-/a", ["-/a"], truncated=False), False) == page("-/a", ["-/a"], truncated=False)
