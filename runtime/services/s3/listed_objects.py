"""How a listing presents each object: as the bucket's owner owns it and in the storage class Terrarium
recorded. The backend stores every object one way and as its own single identity, so its listings name that
identity (`terrarium`) as every object's owner (and no one as an upload's initiator) and STANDARD as every
class; clients compare owners with the canonical user id that ListBuckets and GetBucketAcl give."""

from __future__ import annotations

import html
import re
from urllib.parse import unquote_plus

from runtime.services.s3.records import owner

_LISTED_OBJECT = re.compile(rb"<(Contents|Version)>(.*?)</\1>", re.S)
_LISTED_KEY = re.compile(rb"<Key>(.*?)</Key>", re.S)
_LISTED_CLASS = re.compile(rb"<StorageClass>[^<]*</StorageClass>")
_OWNER = re.compile(rb"<Owner>.*?</Owner>", re.S)


def _person(tag: str, account: str) -> bytes:
    named = owner(account)
    return (f"<{tag}><ID>{named['ID']}</ID><DisplayName>{html.escape(named['DisplayName'])}</DisplayName>"
            f"</{tag}>").encode()


def as_listed(data: bytes, record) -> bytes:
    """`data` (a ListObjects, ListObjectsV2 or ListObjectVersions document) with the bucket owner as every
    entry's owner and each key's recorded storage class."""
    element = _person("Owner", record.account)
    data = _OWNER.sub(lambda _: element, data)
    classes = record.spec.get("storage_classes")
    return _with_storage_classes(data, classes) if classes else data


def with_initiator_and_owner(data: bytes, record) -> bytes:
    """A ListParts document with the upload's Initiator and Owner, which SeaweedFS leaves out: the bucket
    owner, as for every upload here."""
    if b"<Initiator>" in data or b"</ListPartsResult>" not in data:
        return data
    people = _person("Initiator", record.account) + _person("Owner", record.account)
    return data.replace(b"</ListPartsResult>", people + b"</ListPartsResult>")


def _with_storage_classes(data: bytes, classes: dict[str, str]) -> bytes:
    def patch(found: re.Match) -> bytes:
        inner = found.group(2)
        key = _LISTED_KEY.search(inner)
        text = html.unescape(key.group(1).decode()) if key else ""
        klass = classes.get(text) or classes.get(unquote_plus(text))  # encoding-type=url
        if klass is None:
            return found.group(0)
        inner = _LISTED_CLASS.sub(f"<StorageClass>{klass}</StorageClass>".encode(), inner)
        return b"<" + found.group(1) + b">" + inner + b"</" + found.group(1) + b">"
    return _LISTED_OBJECT.sub(patch, data)
