"""The OpenAI-compatible backend against a real HTTP server on loopback (uvicorn + FastAPI),
through the official `openai` client."""


import pytest

from alignstack.backends.base import GenParams
from alignstack.backends.openai_compat import OpenAICompatGenerator
from alignstack.backends.transformers_backend import TransformersGenerator
from alignstack.core.errors import BackendError

from conftest import serving


@pytest.fixture(scope="module")
def server(tiny_model_dir):
    from alignstack.serve.app import bare_app

    local = TransformersGenerator(tiny_model_dir, batch_size=2, dtype="float32")
    with serving(bare_app(local, "tiny")) as url:
        yield url, local


def test_openai_backend_matches_local_generation(server):
    url, local = server
    remote = OpenAICompatGenerator("tiny", base_url=url + "/v1", concurrency=2)
    prompts = [[{"role": "user", "content": q}] for q in ("one", "two words", "three more words")]
    params = GenParams(max_new_tokens=6)
    got = remote.generate(prompts, params)
    want = local.generate(prompts, params)
    assert [c.text for c in got] == [c.text for c in want]
    # usage counts the returned text's tokens (an answer that is only whitespace counts 0)
    assert all(c.prompt_tokens > 0 and (c.completion_tokens > 0) == bool(c.text) for c in got)
    models = remote.client.models.list()
    assert [m.id for m in models.data] == ["tiny"]


def test_wrong_model_is_a_backend_error(server):
    url, _ = server
    remote = OpenAICompatGenerator("not-served", base_url=url + "/v1", max_retries=0)
    with pytest.raises(BackendError, match="not-served"):
        remote.generate([[{"role": "user", "content": "x"}]], GenParams(max_new_tokens=2))
