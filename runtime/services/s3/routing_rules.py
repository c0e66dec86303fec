"""A website configuration's `RoutingRules`: the first rule whose condition holds redirects the request.

A condition names a key prefix, an error code the request would otherwise get, both (all must hold), or
nothing (every request). Rules with an error code are looked at only once that error is known; the others
before the object is read. The redirect keeps the request's scheme and host unless the rule names them, and
replaces the whole key (`ReplaceKeyWith`) or the matched prefix (`ReplaceKeyPrefixWith`)."""

from __future__ import annotations


def redirect_for(rules: list[dict], key: str, *, error: str | None, scheme: str, host: str
                 ) -> tuple[int, str] | None:
    """(status, Location) of the first rule that applies to `key`, failing with `error` (or not failing)."""
    for rule in rules:
        condition = rule.get("Condition") or {}
        prefix = condition.get("KeyPrefixEquals")
        code = condition.get("HttpErrorCodeReturnedEquals")
        if (code or None) != error or (prefix is not None and not key.startswith(prefix)):
            continue
        redirect = rule.get("Redirect") or {}
        if "ReplaceKeyWith" in redirect:
            target = redirect["ReplaceKeyWith"]
        elif "ReplaceKeyPrefixWith" in redirect:
            target = redirect["ReplaceKeyPrefixWith"] + key[len(prefix or ""):]
        else:
            target = key
        location = f"{redirect.get('Protocol') or scheme}://{redirect.get('HostName') or host}/{target}"
        return int(redirect.get("HttpRedirectCode") or 301), location
    return None
