"""Function code from Terrarium's own S3 (`Code.S3Bucket`/`S3Key`/`S3ObjectVersion`).

The object is read through Terrarium's S3 endpoint with the account's root key, as the Lambda service
reads it with its own rights on AWS; a missing object is answered with AWS's message for CreateFunction.
"""

from __future__ import annotations

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from runtime.services.lambda_.errors import invalid


class S3CodeSource:
    def __init__(self, endpoint: str, region: str, access_key: str, secret_key: str) -> None:
        self._client = boto3.client("s3", endpoint_url=endpoint, region_name=region, aws_access_key_id=access_key,
                                    aws_secret_access_key=secret_key,
                                    config=Config(retries={"max_attempts": 2}, s3={"addressing_style": "path"}))

    def fetch(self, bucket: str, key: str, version: str | None = None) -> bytes:
        """The object's bytes. Blocking: call it on a thread (the request goes through this same server)."""
        params = {"Bucket": bucket, "Key": key}
        if version:
            params["VersionId"] = version
        try:
            return self._client.get_object(**params)["Body"].read()
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise invalid(f"Error occurred while GetObject. S3 Error Code: {error.get('Code')}. "
                          f"S3 Error Message: {error.get('Message')}") from None
        except BotoCoreError as exc:
            raise invalid(f"Error occurred while GetObject: {exc}") from None
