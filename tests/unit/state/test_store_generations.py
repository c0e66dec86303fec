"""Spec/status split: generation counts spec changes, observed_generation records what was acted on."""

from __future__ import annotations

import pytest

from runtime.errors import Conflict, NotFound

ACCOUNT = "123456789012"


@pytest.fixture
def vpc(store):
    return store.put("ec2.vpc", "vpc-1", ACCOUNT, {"cidr": "10.0.0.0/16", "dns": True})


def test_a_new_record_is_not_converged(vpc):
    assert (vpc.generation, vpc.observed_generation, vpc.converged) == (1, 0, False)


def test_update_spec_with_a_dict_replaces_and_bumps_generation(store, vpc, clock):
    clock.advance(3)
    record = store.update_spec("ec2.vpc", "vpc-1", {"cidr": "10.0.0.0/16", "dns": False})
    assert record.spec == {"cidr": "10.0.0.0/16", "dns": False}
    assert record.generation == 2
    assert record.updated == clock.now and record.created == vpc.created
    assert store.get("ec2.vpc", "vpc-1") == record


def test_update_spec_with_a_function_gets_a_private_copy(store, vpc):
    def edit(spec):
        spec["dns"] = False  # mutating in place must still count as a change
        return spec

    record = store.update_spec("ec2.vpc", "vpc-1", edit)
    assert record.spec["dns"] is False and record.generation == 2


def test_an_identical_spec_does_not_bump_generation(store, vpc):
    assert store.update_spec("ec2.vpc", "vpc-1", dict(vpc.spec)).generation == 1
    assert store.update_spec("ec2.vpc", "vpc-1", lambda s: s).generation == 1


def test_expected_generation_is_a_compare_and_set(store, vpc):
    store.update_spec("ec2.vpc", "vpc-1", {"cidr": "x"}, expected_generation=1)
    with pytest.raises(Conflict):
        store.update_spec("ec2.vpc", "vpc-1", {"cidr": "y"}, expected_generation=1)
    assert store.get("ec2.vpc", "vpc-1").spec == {"cidr": "x"}


def test_update_status_merges_and_never_bumps_generation(store, vpc):
    store.update_status("ec2.vpc", "vpc-1", {"state": "pending", "router": "tr-v-1"})
    record = store.update_status("ec2.vpc", "vpc-1", {"state": "available", "router": None})
    assert record.status == {"state": "available"}
    assert (record.generation, record.observed_generation) == (1, 0)


def test_observed_generation_tracks_the_reconciler(store, vpc):
    record = store.update_status("ec2.vpc", "vpc-1", {"state": "available"}, observed_generation=1)
    assert record.converged
    record = store.update_spec("ec2.vpc", "vpc-1", {"cidr": "10.1.0.0/16"})
    assert not record.converged and record.observed_generation == 1
    record = store.update_status("ec2.vpc", "vpc-1", {}, observed_generation=2)
    assert record.converged and record.status == {"state": "available"}


def test_a_status_patch_that_changes_nothing_is_a_no_op(store, vpc, clock):
    first = store.update_status("ec2.vpc", "vpc-1", {"state": "available"}, observed_generation=1)
    clock.advance(10)
    again = store.update_status("ec2.vpc", "vpc-1", {"state": "available"}, observed_generation=1)
    assert again == first and again.updated == first.updated


def test_updates_of_a_missing_record_raise_not_found(store):
    with pytest.raises(NotFound):
        store.update_spec("ec2.vpc", "vpc-9", {})
    with pytest.raises(NotFound):
        store.update_status("ec2.vpc", "vpc-9", {"state": "x"})
