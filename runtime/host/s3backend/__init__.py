"""The S3 backend: a real object store that only Terrarium talks to.

`Backend` is the port the S3 gateway uses; `open_backend(data_dir)` gives the configured implementation:
an external MinIO/S3 endpoint when `TERRARIUM_S3_BACKEND_URL` is set (keys from `..._ACCESS_KEY` and
`..._SECRET_KEY`), otherwise a local store that Terrarium starts, supervises and stops: the embedded
SeaweedFS, or a `minio` binary on PATH when `TERRARIUM_S3_BACKEND_KIND=minio`.
"""

from runtime.host.s3backend.client import Backend, BackendEndpoint, BackendUnavailable
from runtime.host.s3backend.config import open_backend

__all__ = ["Backend", "BackendEndpoint", "BackendUnavailable", "open_backend"]
