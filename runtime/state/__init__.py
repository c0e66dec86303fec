"""Persistent state: records (spec + status), a durable job queue and meta values behind the
`Store` port, implemented on SQLite. Imports nothing of ours but `runtime.errors`."""

from runtime.state.changes import KeyFeed
from runtime.state.migrations import SchemaTooNew
from runtime.state.records import Job, Key, LogEvent, Record
from runtime.state.sqlite import SqliteStore
from runtime.state.store import ChangeCallback, Store

__all__ = ["ChangeCallback", "Job", "Key", "KeyFeed", "LogEvent", "Record", "SchemaTooNew", "SqliteStore", "Store"]
