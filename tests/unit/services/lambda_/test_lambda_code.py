"""Code storage: validation, content addressing, unzip permissions."""

import base64
import hashlib
import io
import stat
import zipfile

import pytest

from runtime.errors import AwsError
from runtime.services.lambda_.code import CodeStore, check_handler


def make_zip(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buf.getvalue()


@pytest.fixture
def store(tmp_path):
    return CodeStore(tmp_path / "data", tmp_path / "cache")


def test_handler_module_must_exist(store):
    data = make_zip({"pkg/mod.py": "def h(e, c): pass\n"})
    store.validate(data, "pkg/mod.h")
    store.validate(data, "pkg.mod.h")
    with pytest.raises(AwsError) as info:
        store.validate(data, "app.h")
    assert info.value.code == "InvalidParameterValueException"


def test_not_a_zip(store):
    with pytest.raises(AwsError) as info:
        store.validate(b"plain bytes", "app.h")
    assert info.value.code == "InvalidParameterValueException"
    assert "unzip" in info.value.message


@pytest.mark.parametrize("handler", ["nodot", ".h", "app.", "a pp.h"])
def test_malformed_handler(handler):
    with pytest.raises(AwsError):
        check_handler(handler)


def test_save_is_content_addressed_and_unzips_readable(store, tmp_path):
    data = make_zip({"app.py": "x = 1\n", "lib/util.py": "y = 2\n", "../escape.py": "no"})
    info = store.save(data)
    assert info.sha_b64 == base64.b64encode(hashlib.sha256(data).digest()).decode() and info.size == len(data)
    assert store.save(data) == info
    assert store.zip_path(info.sha_hex) == tmp_path / "data" / "lambda" / "code" / f"{info.sha_hex}.zip"
    tree = store.code_dir(info.sha_hex)
    assert (tree / "app.py").read_text() == "x = 1\n" and (tree / "lib" / "util.py").exists()
    assert not (tmp_path / "cache" / "escape.py").exists()
    assert stat.S_IMODE((tree / "lib").stat().st_mode) == 0o755
    assert stat.S_IMODE((tree / "app.py").stat().st_mode) == 0o644
    assert store.code_dir(info.sha_hex) == tree
