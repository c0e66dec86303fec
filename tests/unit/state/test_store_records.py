"""Record CRUD, secondary-name uniqueness, parents, where-filters and tags on the SQLite store."""

from __future__ import annotations

import pytest

from runtime.errors import Conflict, NotFound
from runtime.state import SqliteStore
ACCOUNT = "123456789012"

OTHER = "210987654321"


def test_put_then_get_returns_the_stored_record(store, clock):
    made = store.put("ec2.vpc", "vpc-1", ACCOUNT, {"cidr": "10.0.0.0/16"}, tags={"Name": "main"})
    got = store.get("ec2.vpc", "vpc-1")
    assert got == made
    assert (got.kind, got.id, got.account) == ("ec2.vpc", "vpc-1", ACCOUNT)
    assert got.spec == {"cidr": "10.0.0.0/16"}
    assert got.status == {}
    assert (got.generation, got.observed_generation) == (1, 0)
    assert got.created == got.updated == clock.now
    assert got.tags == {"Name": "main"}
    assert got.parent is None and got.name is None
    assert got.key == ("ec2.vpc", "vpc-1")


def test_get_of_a_missing_record_raises_not_found(store):
    with pytest.raises(NotFound):
        store.get("ec2.vpc", "vpc-nope")


def test_returned_records_are_snapshots(store):
    record = store.put("ec2.vpc", "vpc-1", ACCOUNT, {"cidr": "10.0.0.0/16", "nested": {"a": 1}})
    record.spec["cidr"] = "changed"
    record.spec["nested"]["a"] = 2
    assert store.get("ec2.vpc", "vpc-1").spec == {"cidr": "10.0.0.0/16", "nested": {"a": 1}}


def test_same_kind_and_id_conflicts(store):
    store.put("ec2.vpc", "vpc-1", ACCOUNT, {})
    with pytest.raises(Conflict):
        store.put("ec2.vpc", "vpc-1", OTHER, {})


def test_same_id_under_another_kind_is_a_different_record(store):
    store.put("s3.bucket", "logs", ACCOUNT, {"a": 1})
    store.put("logs.group", "logs", ACCOUNT, {"b": 2})
    assert store.get("s3.bucket", "logs").spec == {"a": 1}
    assert store.get("logs.group", "logs").spec == {"b": 2}


def test_names_are_unique_per_kind_and_account(store):
    store.put("iam.user", "AIDA1", ACCOUNT, {}, name="alice")
    with pytest.raises(Conflict):
        store.put("iam.user", "AIDA2", ACCOUNT, {}, name="alice")
    store.put("iam.user", "AIDA3", OTHER, {}, name="alice")
    store.put("iam.role", "AROA1", ACCOUNT, {}, name="alice")
    store.put("iam.user", "AIDA4", ACCOUNT, {})
    store.put("iam.user", "AIDA5", ACCOUNT, {})
    assert store.find("iam.user", ACCOUNT, "alice").id == "AIDA1"
    assert store.find("iam.user", OTHER, "alice").id == "AIDA3"
    assert store.find("iam.user", ACCOUNT, "bob") is None


def test_a_deleted_name_can_be_reused(store):
    store.put("ec2.key_pair", "key-1", ACCOUNT, {}, name="k")
    store.delete("ec2.key_pair", "key-1")
    store.put("ec2.key_pair", "key-2", ACCOUNT, {}, name="k")
    assert store.find("ec2.key_pair", ACCOUNT, "k").id == "key-2"


def test_parent_must_exist_in_the_same_account(store):
    with pytest.raises(NotFound):
        store.put("ec2.subnet", "subnet-1", ACCOUNT, {}, parent="vpc-1")
    store.put("ec2.vpc", "vpc-1", OTHER, {})
    with pytest.raises(NotFound):
        store.put("ec2.subnet", "subnet-1", ACCOUNT, {}, parent="vpc-1")


def test_a_parent_with_children_cannot_be_deleted(store):
    store.put("ec2.vpc", "vpc-1", ACCOUNT, {})
    store.put("ec2.subnet", "subnet-1", ACCOUNT, {}, parent="vpc-1")
    with pytest.raises(Conflict, match="subnet-1"):
        store.delete("ec2.vpc", "vpc-1")
    store.delete("ec2.subnet", "subnet-1")
    store.delete("ec2.vpc", "vpc-1")
    with pytest.raises(NotFound):
        store.get("ec2.vpc", "vpc-1")


def test_delete_of_a_missing_record_raises_not_found(store):
    with pytest.raises(NotFound):
        store.delete("ec2.vpc", "vpc-1")


def test_list_is_oldest_first_and_narrows_by_account_and_parent(store):
    store.put("ec2.vpc", "vpc-b", ACCOUNT, {})
    store.put("ec2.vpc", "vpc-a", ACCOUNT, {})
    store.put("ec2.vpc", "vpc-c", OTHER, {})
    store.put("ec2.subnet", "subnet-1", ACCOUNT, {}, parent="vpc-a")
    store.put("ec2.subnet", "subnet-2", ACCOUNT, {}, parent="vpc-b")
    store.put("ec2.subnet", "subnet-3", ACCOUNT, {}, parent="vpc-a")
    assert [r.id for r in store.list("ec2.vpc")] == ["vpc-b", "vpc-a", "vpc-c"]
    assert [r.id for r in store.list("ec2.vpc", account=ACCOUNT)] == ["vpc-b", "vpc-a"]
    assert [r.id for r in store.list("ec2.subnet", parent="vpc-a")] == ["subnet-1", "subnet-3"]
    assert store.list("ec2.subnet", account=OTHER) == []
    assert store.list("ec2.nothing") == []


@pytest.fixture
def instances(store):
    store.put("ec2.instance", "i-1", ACCOUNT, {"type": "t3.micro", "count": 1, "ebs": True, "zone": "a"})
    store.put("ec2.instance", "i-2", ACCOUNT, {"type": "t3.small", "count": 2, "ebs": False})
    store.put("ec2.instance", "i-3", ACCOUNT, {"type": "t3.micro", "count": 2, "ebs": True, "zone": None})
    return store


def _ids(records):
    return [r.id for r in records]


def test_where_matches_strings_numbers_and_booleans(instances):
    assert _ids(instances.list("ec2.instance", where={"type": "t3.micro"})) == ["i-1", "i-3"]
    assert _ids(instances.list("ec2.instance", where={"count": 2})) == ["i-2", "i-3"]
    assert _ids(instances.list("ec2.instance", where={"ebs": False})) == ["i-2"]
    assert _ids(instances.list("ec2.instance", where={"type": "t3.micro", "count": 2})) == ["i-3"]
    assert _ids(instances.list("ec2.instance", where={"type": "1"})) == []


def test_where_none_matches_missing_and_null(instances):
    assert _ids(instances.list("ec2.instance", where={"zone": None})) == ["i-2", "i-3"]


def test_where_collection_means_any_of(instances):
    assert _ids(instances.list("ec2.instance", where={"type": ["t3.small", "t3.large"]})) == ["i-2"]
    assert _ids(instances.list("ec2.instance", where={"zone": {"a", None}})) == ["i-1", "i-2", "i-3"]
    assert instances.list("ec2.instance", where={"type": []}) == []


def test_where_rejects_paths_and_structured_values(instances):
    with pytest.raises(ValueError):
        instances.list("ec2.instance", where={'type") OR 1 --': "x"})
    with pytest.raises(ValueError):
        instances.list("ec2.instance", where={"a.b": "x"})
    with pytest.raises(TypeError):
        instances.list("ec2.instance", where={"type": {"nested": 1}})


def test_tags_are_set_merged_and_deleted(store, clock):
    store.put("ec2.vpc", "vpc-1", ACCOUNT, {}, tags={"Name": "a", "env": "dev"})
    clock.advance(5)
    record = store.set_tags("ec2.vpc", "vpc-1", {"env": "prod", "team": "x"})
    assert record.tags == {"Name": "a", "env": "prod", "team": "x"}
    assert record.updated == clock.now and record.generation == 1
    record = store.delete_tags("ec2.vpc", "vpc-1", ["Name", "absent"])
    assert store.get("ec2.vpc", "vpc-1").tags == record.tags == {"env": "prod", "team": "x"}
    with pytest.raises(NotFound):
        store.set_tags("ec2.vpc", "vpc-2", {"a": "b"})


def test_meta_holds_json_values(store):
    assert store.get_meta("account_id") is None
    assert store.get_meta("account_id", "none") == "none"
    store.set_meta("account_id", "123456789012")
    store.set_meta("root_key", {"id": "AKIA", "secret": "s"})
    store.set_meta("account_id", "000000000000")
    assert store.get_meta("account_id") == "000000000000"
    assert store.get_meta("root_key") == {"id": "AKIA", "secret": "s"}


def test_records_survive_reopening(tmp_path):
    with SqliteStore(tmp_path / "s.db") as first:
        first.put("ec2.vpc", "vpc-1", ACCOUNT, {"cidr": "10.0.0.0/16"})
        first.update_status("ec2.vpc", "vpc-1", {"state": "available"}, observed_generation=1)
    with SqliteStore(tmp_path / "s.db") as second:
        record = second.get("ec2.vpc", "vpc-1")
        assert record.status == {"state": "available"} and record.converged
        assert second.check() == []
