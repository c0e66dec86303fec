"""Docker images behind the account's own AMIs (`terrarium/ami-<id>:latest`), labelled `terrarium=1`,
`terrarium.kind=user-ami`, `terrarium.owner=<account>` and `terrarium.ami=<id>`, so each Terrarium finds and
removes only its own. Instance images are committed in containers.py; this module copies, sizes, lists and
removes them. Blocking, idempotent, raises only runtime.errors.
"""

from __future__ import annotations

from runtime.errors import NotFound
from runtime.host.docker.client import connect, docker_errors

REPOSITORY = "terrarium"
KIND = "user-ami"


def reference(image_id: str) -> str:
    return f"{REPOSITORY}/{image_id}:latest"


def labels(owner: str, image_id: str) -> dict[str, str]:
    return {"terrarium": "1", "terrarium.kind": KIND, "terrarium.owner": owner, "terrarium.ami": image_id}


def size(ref: str) -> int | None:
    """The image's size in bytes, or None if the engine does not have it."""
    try:
        with docker_errors(f"inspecting {ref}"):
            return int(connect().api.inspect_image(ref)["Size"])
    except NotFound:
        return None


def copy(source: str, target_ref: str, target_labels: dict[str, str]) -> None:
    """A new image `target_ref` with the same filesystem and configuration as `source` and its own labels:
    a never-started container of `source` committed with the labels (no build, no network)."""
    client = connect()
    label_change = "LABEL " + " ".join(f'{k}="{v}"' for k, v in target_labels.items())
    repository, _, tag = target_ref.rpartition(":")
    name = "tr-copy-" + target_labels["terrarium.ami"]
    try:
        with docker_errors(f"removing a stale {name}"):
            client.api.remove_container(name, force=True)
    except NotFound:
        pass
    with docker_errors(f"copying {source} to {target_ref}"):
        container = client.api.create_container(source, name=name, network_disabled=True,
                                                labels={"terrarium": "1", "terrarium.kind": "ami-copy"})
        try:
            client.api.commit(container["Id"], repository=repository, tag=tag, changes=[label_change])
        finally:
            client.api.remove_container(container["Id"], force=True)


def remove(ref: str) -> None:
    """Untag/remove the image; a missing one is fine. Raises Conflict while a container still uses it."""
    try:
        with docker_errors(f"removing {ref}"):
            connect().api.remove_image(ref)
    except NotFound:
        pass


def owned(owner: str) -> dict[str, str]:
    """This Terrarium's AMI images: AMI id -> image reference."""
    with docker_errors("listing AMI images"):
        found = connect().api.images(filters={"label": [f"terrarium.kind={KIND}", f"terrarium.owner={owner}"]})
    out = {}
    for image in found:
        for tag in image.get("RepoTags") or []:
            name = tag.split(":", 1)[0].removeprefix(REPOSITORY + "/")
            if name.startswith("ami-"):
                out[name] = tag
    return out
