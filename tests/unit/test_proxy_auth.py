"""No default secret: the shipped example names no key, and `alignstack serve` refuses to start
with a key hash the project has published (anyone can read it) or with no key at all, unless
`--no-auth` asks for an open server, which only loopback may have.

Every refusal happens before a model loads, so these run the real CLI through typer's runner."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from alignstack.cli.main import app
from alignstack.core.errors import ConfigError
from alignstack.serve.config import ServeConfig, load_serve_config
from alignstack.serve.keys import hash_key

from conftest import EXAMPLES

runner = CliRunner()


def config_file(tmp_path, keys: list[str]):
    path = tmp_path / "serve.yaml"
    path.write_text("model_name: x\napi_keys: [" + ", ".join(f'"{k}"' for k in keys) + "]\n")
    return path


def test_the_shipped_example_names_no_key_and_says_how_to_make_one():
    assert load_serve_config(EXAMPLES / "serve.yaml").api_keys == []
    text = (EXAMPLES / "serve.yaml").read_text()
    assert "e2186dbdb1bb4193608605e84f33208765b5693b55edd4f730a719a100eeea6f" not in text
    assert "alignstack serve --hash-key" in text


def test_serve_refuses_a_published_key(tmp_path):
    config = config_file(tmp_path, [hash_key("my own long secret"), hash_key("change-me")])
    result = runner.invoke(app, ["serve", "--config", str(config)])
    assert result.exit_code == 2, result.output
    flat = " ".join(result.output.split())
    assert str(config) in flat and "api_keys" in flat and "--hash-key" in flat
    assert "Traceback" not in result.output


def test_serve_refuses_to_start_without_a_key(tmp_path):
    config = config_file(tmp_path, [])
    result = runner.invoke(app, ["serve", "--config", str(config)])
    assert result.exit_code == 2, result.output
    flat = " ".join(result.output.split())
    assert str(config) in flat and "api_keys" in flat and "--hash-key" in flat
    assert "--no-auth" in flat
    bare = runner.invoke(app, ["serve", "--model", "smollm2"])     # no config: no key either
    assert bare.exit_code == 2 and "api_keys" in bare.output


def test_no_auth_is_for_loopback_only(tmp_path):
    config = config_file(tmp_path, [])
    for host in ("0.0.0.0", "192.168.1.20", "example.org"):
        result = runner.invoke(app, ["serve", "--config", str(config), "--no-auth",
                                     "--host", host])
        assert result.exit_code == 2, result.output
        assert "loopback" in result.output and host in result.output


def test_the_check_serve_runs():
    """What `serve` runs before anything loads: a private key passes; --no-auth passes on
    loopback (the CLI then warns loudly) and never beside configured keys."""
    from alignstack.serve.config import check_auth

    own = ServeConfig(api_keys=[hash_key("a private key nobody published")])
    check_auth(own, path="serve.yaml", no_auth=False, host="0.0.0.0")
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        check_auth(ServeConfig(), path=None, no_auth=True, host=host)
    with pytest.raises(ConfigError, match="api_keys"):
        check_auth(own, path="serve.yaml", no_auth=True, host="127.0.0.1")
    with pytest.raises(ConfigError, match="api_keys") as err:
        check_auth(ServeConfig(api_keys=[hash_key("change-me")]), path="serve.yaml",
                   no_auth=False, host="127.0.0.1")
    assert "serve.yaml" in str(err.value)
