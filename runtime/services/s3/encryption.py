"""Server-side encryption asked of an object request. Terrarium stores objects as its backend does, so it
takes S3-managed keys (`x-amz-server-side-encryption: AES256`, what S3 applies to every object anyway) and
answers 501 to the kinds it cannot honour: SSE-KMS (no KMS here) and SSE-C, whose point is that a read
without the customer's key fails, which a store ignoring the key would silently break."""

from __future__ import annotations

from runtime.errors import AwsError

_SSE = "x-amz-server-side-encryption"
_CUSTOMER = ("x-amz-server-side-encryption-customer-", "x-amz-copy-source-server-side-encryption-customer-")


def check_encryption(headers) -> None:
    method = headers.get(_SSE)
    if method is not None and method != "AES256":
        raise AwsError("NotImplemented", f"Terrarium's S3 does not implement server-side encryption with {method}.",
                       501, sender_fault=False)
    if any(name.lower().startswith(_CUSTOMER) for name in headers):
        raise AwsError("NotImplemented", "Terrarium's S3 does not implement server-side encryption with "
                                         "customer-provided keys (SSE-C).", 501, sender_fault=False)
