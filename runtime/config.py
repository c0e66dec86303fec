"""The one frozen `Settings` every component is built from."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_LISTEN = "127.0.0.1:4566"
DEFAULT_DATA_DIR = Path("/var/lib/terrarium")
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = DEFAULT_DATA_DIR
    listen: str = DEFAULT_LISTEN
    region: str = DEFAULT_REGION
    account_id: str | None = None
    availability_zones: tuple[str, ...] = field(default=())
    name_prefix: str = "tr-"
    internet_endpoint: str = "198.51.100.2:4566"  # where instances reach the API, inside the region's internet

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def zones(self) -> tuple[str, ...]:
        return self.availability_zones or tuple(f"{self.region}{s}" for s in "abc")

    @property
    def db_path(self) -> Path:
        return self.data_dir / "state.db"

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        """Environment variables `TERRARIUM_*` first, explicit overrides (CLI flags) win."""
        values: dict = {}
        if v := os.environ.get("TERRARIUM_DATA_DIR"):
            values["data_dir"] = Path(v)
        if v := os.environ.get("TERRARIUM_LISTEN"):
            values["listen"] = v
        if v := os.environ.get("TERRARIUM_REGION"):
            values["region"] = v
        if v := os.environ.get("TERRARIUM_ACCOUNT_ID"):
            values["account_id"] = v
        if (v := os.environ.get("TERRARIUM_INTERNET_ENDPOINT")) is not None:
            values["internet_endpoint"] = v
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "data_dir" in values:
            values["data_dir"] = Path(values["data_dir"])
        return cls(**values)
