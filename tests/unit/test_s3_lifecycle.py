"""Which objects a lifecycle rule selects: prefix, size bounds and object tags (`Filter.Tag`, `Filter.And`)."""

from __future__ import annotations

from runtime.services.s3.lifecycle import parse_tagging, required_tags, selects

TAGGED = {"Filter": {"Tag": {"Key": "env", "Value": "tmp"}}}
AND = {"Filter": {"And": {"Prefix": "logs/", "ObjectSizeGreaterThan": 10,
                          "Tags": [{"Key": "team", "Value": "a"}, {"Key": "tier", "Value": "cold"}]}}}


def test_rules_without_tags_need_none():
    assert required_tags({"Filter": {"Prefix": "a/"}}) == {}
    assert selects({"Filter": {"Prefix": "a/"}}, "a/x", 1)
    assert not selects({"Prefix": "b/"}, "a/x", 1)  # legacy rule-level prefix
    assert selects({"Filter": {}}, "anything", 0)


def test_single_tag_filter():
    assert required_tags(TAGGED) == {"env": "tmp"}
    assert selects(TAGGED, "k", 1, {"env": "tmp", "other": "1"})
    assert not selects(TAGGED, "k", 1, {"env": "prod"})
    assert not selects(TAGGED, "k", 1, {})
    assert not selects(TAGGED, "k", 1)  # tags unknown: never applied blindly


def test_and_filter_needs_every_condition():
    tags = {"team": "a", "tier": "cold"}
    assert required_tags(AND) == tags
    assert selects(AND, "logs/1", 11, tags)
    assert not selects(AND, "logs/1", 11, {"team": "a"})
    assert not selects(AND, "other/1", 11, tags)
    assert not selects(AND, "logs/1", 10, tags)


def test_tagging_document():
    document = (b'<?xml version="1.0" encoding="UTF-8"?><Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                b"<TagSet><Tag><Key>team</Key><Value>a</Value></Tag><Tag><Key>empty</Key><Value></Value></Tag>"
                b"</TagSet></Tagging>")
    assert parse_tagging(document) == {"team": "a", "empty": ""}
