"""The README's "Supported operations" section is what the registry of implemented operations says, so it
cannot drift from the code: any provider change that adds or drops an operation fails here until the section
is regenerated."""

from __future__ import annotations

import pytest

from runtime import operations_table
from runtime.api import specs
from runtime.api.dispatch import Dispatcher, operation
from tests.server import REPO

REGENERATE = ".venv/bin/terrarium operations --markdown --write README.md"


@pytest.fixture(scope="module")
def rows():
    return operations_table.table(operations_table.registry())


def test_readme_lists_exactly_the_registered_operations(rows):
    readme = (REPO / "README.md").read_text()
    expected = operations_table.splice(readme, operations_table.markdown(rows))
    assert readme == expected, f"README.md's supported operations are stale: run `{REGENERATE}` and commit it"


def test_only_operations_of_botocores_model_count():
    class Provider:
        @operation("GetCallerIdentity")
        def identity(self, ctx, params):
            return {}

        @operation("GetCallerIdentities")  # not an STS operation: the gateway never dispatches to it
        def misnamed(self, ctx, params):
            return {}

    dispatcher = Dispatcher()
    dispatcher.register("sts", Provider())
    [row] = operations_table.table(dispatcher, "sts")
    assert row == {"Service": "sts", "Implemented": 1, "Operations": ["GetCallerIdentity"],
                   "Total": len(specs.service_model("sts").operation_names)}


def test_every_service_the_gateway_speaks_has_operations(rows):
    assert [r["Service"] for r in rows] == sorted(specs.SERVICES)
    assert all(r["Implemented"] > 0 for r in rows)


def test_splice_replaces_only_the_block_between_the_markers():
    doc = f"intro\n{operations_table.README_BEGIN}\nold\n{operations_table.README_END}\noutro\n"
    assert operations_table.splice(doc, "new\n") == \
        f"intro\n{operations_table.README_BEGIN}\nnew\n{operations_table.README_END}\noutro\n"


def test_splice_refuses_a_document_without_markers():
    with pytest.raises(ValueError, match="markers"):
        operations_table.splice("no section here\n", "new\n")
