"""Lifecycle rules, applied by Terrarium (the backend has no storage classes and never sees the rules).

`LifecycleRunner.run_once()` walks every bucket with enabled rules: a transition whose `Days` (object age) or
`Date` has come records the target storage class for the key; an expiration whose time has come deletes the
object. AWS applies rules asynchronously, about daily; `run_forever(interval)` does a pass at start and one
per interval. Filters: prefix (`Filter.Prefix`, `Filter.And.Prefix`, legacy `Prefix`), object size bounds and object tags
(`Filter.Tag`, `Filter.And.Tags`: every named tag must be on the object with that value). An object's tags are
read from the backend (`?tagging`) only when a tag-filtered rule's other conditions already hold, once per
object per pass.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from xml.etree.ElementTree import fromstring

from runtime.services.s3.background import BackgroundPass
from runtime.services.s3.buckets import revived
from runtime.services.s3.folder_markers import note_markers
from runtime.services.s3.records import BUCKET
from runtime.services.s3.redirects import note_redirects

DAY = 86400.0
INTERVAL_ENV = "TERRARIUM_S3_LIFECYCLE_INTERVAL"


def lifecycle_interval() -> float:
    """Seconds between lifecycle passes: hourly by default (AWS: about daily), shorter for tests."""
    return float(os.environ.get(INTERVAL_ENV, "3600"))


_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def _when(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _due(action: dict, modified: float, now: float) -> bool:
    if action.get("Days") is not None:
        return now - modified >= action["Days"] * DAY
    date = _when(action.get("Date"))
    return date is not None and now >= date


def _conditions(rule: dict) -> dict:
    filt = rule.get("Filter") or {}
    return dict(filt.get("And") or {}, **{k: v for k, v in filt.items() if k != "And"})


def required_tags(rule: dict) -> dict[str, str]:
    """The tags (key -> value) an object must carry for the rule to apply; empty when it filters on none."""
    conditions = _conditions(rule)
    tags = list(conditions.get("Tags") or []) + ([conditions["Tag"]] if conditions.get("Tag") else [])
    return {tag["Key"]: tag.get("Value", "") for tag in tags}


def selects(rule: dict, key: str, size: int, tags: dict[str, str] | None = None) -> bool:
    """Whether the rule applies to the object. `tags` may be left out while the rule filters on none."""
    conditions = _conditions(rule)
    prefix = conditions.get("Prefix", rule.get("Prefix", "")) or ""
    if not key.startswith(prefix):
        return False
    if conditions.get("ObjectSizeGreaterThan") is not None and size <= conditions["ObjectSizeGreaterThan"]:
        return False
    if conditions.get("ObjectSizeLessThan") is not None and size >= conditions["ObjectSizeLessThan"]:
        return False
    wanted = required_tags(rule)
    return not wanted or (tags is not None and all(tags.get(k) == v for k, v in wanted.items()))


def parse_tagging(document: bytes) -> dict[str, str]:
    """The TagSet of a GetObjectTagging answer."""
    root = fromstring(document)
    return {tag.findtext(f"{_NS}Key") or "": tag.findtext(f"{_NS}Value") or "" for tag in root.iter(f"{_NS}Tag")}


class LifecycleRunner(BackgroundPass):
    what = "lifecycle pass"

    async def run_once(self) -> None:
        now = self.clock()
        for record in self.store.list(BUCKET):
            rules = [r for r in ((revived(record.spec.get("lifecycle")) or {}).get("Rules") or [])
                     if r.get("Status") == "Enabled"]
            if rules:
                await self._apply(record, rules, now)

    async def _apply(self, record, rules: list[dict], now: float) -> None:
        classes: dict[str, str] = {}
        expired: list[str] = []
        async for key, size, modified in self._objects(record.spec["backend"]):
            tags = None
            for rule in rules:
                wanted = required_tags(rule)
                if wanted and tags is None and selects(rule, key, size, wanted):  # all but the tags hold
                    tags = await self._tags(record.spec["backend"], key)
                if not selects(rule, key, size, tags):
                    continue
                expiration = rule.get("Expiration") or {}
                if (expiration.get("Days") is not None or expiration.get("Date") is not None) and \
                        _due(expiration, modified, now):
                    expired.append(key)
                    break
                due = [t for t in rule.get("Transitions") or [] if _due(t, modified, now)]
                if due:
                    latest = max(due, key=lambda t: t.get("Days") or _when(t.get("Date")) or 0)
                    classes[key] = latest["StorageClass"]
        for key in expired:
            reply = await self.backend.request("DELETE", record.spec["backend"], key, [], {})
            reply.release()
        note_markers(self.store, record, deleted=expired)
        note_redirects(self.store, record, dict.fromkeys(expired))
        if classes or expired:
            def update(spec: dict) -> dict:
                current = dict(spec.get("storage_classes") or {})
                current.update(classes)
                for key in expired:
                    current.pop(key, None)
                return {**spec, "storage_classes": current}
            self.store.update_spec(BUCKET, record.id, update)

    async def _tags(self, backend_bucket: str, key: str) -> dict[str, str]:
        reply = await self.backend.request("GET", backend_bucket, key, [("tagging", "")], {})
        try:
            document = await reply.read()
        finally:
            reply.release()
        return parse_tagging(document) if reply.status == 200 else {}

    async def _objects(self, backend_bucket: str):
        token = None
        while True:
            query = [("list-type", "2")] + ([("continuation-token", token)] if token else [])
            reply = await self.backend.request("GET", backend_bucket, None, query, {})
            try:
                root = fromstring(await reply.read())
            finally:
                reply.release()
            for item in root.iter(f"{_NS}Contents"):
                modified = datetime.fromisoformat(item.findtext(f"{_NS}LastModified").replace("Z", "+00:00"))
                yield (item.findtext(f"{_NS}Key"), int(item.findtext(f"{_NS}Size") or 0),
                       modified.astimezone(timezone.utc).timestamp())
            if root.findtext(f"{_NS}IsTruncated") != "true":
                return
            token = root.findtext(f"{_NS}NextContinuationToken")
