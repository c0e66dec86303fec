import pytest

from tests.server import start_server


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One real Terrarium process for the session, on a free loopback port with its own data dir."""
    base = tmp_path_factory.mktemp("terrarium")
    running = start_server(base / "data", log_path=base / "server.log")
    yield running
    running.stop()
