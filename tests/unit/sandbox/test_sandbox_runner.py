"""The in-sandbox runner's pure parts (stdlib only, so importable on the host): handler loading, AWS error
shapes, the context object."""

from __future__ import annotations

import sys
import time

import pytest

from runtime.sandbox import zygote


@pytest.fixture
def code_dir(tmp_path, monkeypatch):
    (tmp_path / "good_mod_tr.py").write_text("def handler(e, c):\n    return e\n")
    (tmp_path / "syntax_mod_tr.py").write_text("def handler(e, c)\n    pass\n")
    (tmp_path / "pkg_tr").mkdir()
    (tmp_path / "pkg_tr" / "__init__.py").write_text("")
    (tmp_path / "pkg_tr" / "inner.py").write_text("def h(e, c):\n    return 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith(("good_mod_tr", "syntax_mod_tr", "pkg_tr"))]:
        del sys.modules[name]


def test_load_handler_finds_functions(code_dir):
    assert zygote.load_handler("good_mod_tr.handler")({"a": 1}, None) == {"a": 1}
    assert zygote.load_handler("pkg_tr/inner.h")(None, None) == 2


@pytest.mark.parametrize("handler,error_type,message", [
    ("nodot", "Runtime.MalformedHandlerName", "Bad handler 'nodot': not enough values to unpack (expected 2, got 1)"),
    ("missing_mod_tr.h", "Runtime.ImportModuleError", "Unable to import module 'missing_mod_tr': No module named 'missing_mod_tr'"),
    ("good_mod_tr.nope", "Runtime.HandlerNotFound", "Handler 'nope' missing on module 'good_mod_tr'"),
    ("sys.h", "Runtime.BuiltInModuleConflict", "Cannot use built-in module sys as a handler module"),
])
def test_load_handler_faults(code_dir, handler, error_type, message):
    with pytest.raises(zygote._Fault) as info:
        zygote.load_handler(handler)
    assert (info.value.error_type, info.value.message) == (error_type, message)


def test_syntax_error_fault_has_awslambdaric_trace(code_dir):
    with pytest.raises(zygote._Fault) as info:
        zygote.load_handler("syntax_mod_tr.handler")
    assert info.value.error_type == "Runtime.UserCodeSyntaxError"
    assert info.value.message.startswith("Syntax error in module 'syntax_mod_tr': ")
    assert info.value.trace[0] == f'  File "{code_dir}/syntax_mod_tr.py" Line 1\n    def handler(e, c)\n'


def test_error_log_entry_uses_no_break_space_indentation():
    error = zygote.make_error("'x'", "KeyError", ['  File "/var/task/a.py", line 3, in h\n    return e["x"]\n'], "rid")
    assert error == {"errorMessage": "'x'", "errorType": "KeyError", "requestId": "rid",
                     "stackTrace": ['  File "/var/task/a.py", line 3, in h\n    return e["x"]\n']}
    assert zygote.error_log_entry(error) == (
        "[ERROR] KeyError: 'x'\nTraceback (most recent call last):\n"
        "\u00a0\u00a0File \"/var/task/a.py\", line 3, in h\n\u00a0\u00a0\u00a0\u00a0return e[\"x\"]")


def test_context_object(monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "f")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
    monkeypatch.setenv("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/f")
    deadline = int(time.time() * 1000) + 2000
    ctx = zygote.LambdaContext("rid", "arn:aws:lambda:us-east-1:1:function:f:prod", deadline,
                               {"client": {"installation_id": "i"}, "custom": {"a": 1}, "env": {"e": 2}},
                               {"cognitoIdentityId": "id1"})
    assert ctx.function_name == "f" and ctx.memory_limit_in_mb == "256" and ctx.log_group_name == "/aws/lambda/f"
    assert 1900 < ctx.get_remaining_time_in_millis() <= 2000
    assert ctx.client_context.client.installation_id == "i" and ctx.client_context.custom == {"a": 1}
    assert ctx.identity.cognito_identity_id == "id1" and ctx.identity.cognito_identity_pool_id is None
    assert zygote.LambdaContext("r", "a", 0, None, None).get_remaining_time_in_millis() == 0
