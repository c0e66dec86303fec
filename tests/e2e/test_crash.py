"""kill -9 of a serving Terrarium at any moment loses nothing it acknowledged and leaves a database that opens."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time

from botocore.exceptions import BotoCoreError, ClientError

from tests.server import start_server


def test_kill_9_during_writes_then_restart(tmp_path):
    data = tmp_path / "data"
    server = start_server(data)
    acknowledged: list[str] = []
    stop = threading.Event()

    def writer() -> None:
        ec2 = server.client("ec2")
        i = 0
        while not stop.is_set():
            try:
                ec2.import_key_pair(KeyName=f"k{i}", PublicKeyMaterial=KEY)
                acknowledged.append(f"k{i}")
            except (ClientError, BotoCoreError):
                return  # the server died under us: this call was not acknowledged
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(1.5)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    stop.set()
    thread.join(10)
    assert len(acknowledged) > 5
    with sqlite3.connect(data / "state.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    again = start_server(data)
    try:
        names = {k["KeyName"] for k in again.client("ec2").describe_key_pairs()["KeyPairs"]}
        assert set(acknowledged) <= names
        assert again.client("sts").get_caller_identity()["Account"] == server.account_id
    finally:
        again.stop()


KEY = b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx5Cq2xA1Hn0lJ7rQ3sQ0cX0D3Qv0nq0Zs0l3qk7Xy2 test"
