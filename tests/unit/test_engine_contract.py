"""One contract, every backend: transformers (tiny model), llama.cpp (the tiny model as GGUF) and
the OpenAI-compatible HTTP client against a real llama.cpp server on loopback (its own listener,
reached with the official `openai` client and the key the engine was started with), and vLLM
where a GPU and vllm are present (skipped with the reason elsewhere)."""

import importlib.util

import pytest

from alignstack.backends.base import GenParams, Generator, load_backend

CHATS = [[{"role": "user", "content": q}]
         for q in ("Hi", "What is the capital of France, and why?", "Tell me a story.")]


def gpu_reason() -> str | None:
    import torch

    if not torch.cuda.is_available():
        return "vLLM needs a GPU; this machine has none"
    if importlib.util.find_spec("vllm") is None:
        return "vllm is not installed (pip install 'alignstack[vllm]')"
    return None


@pytest.fixture(scope="module", params=["transformers", "llamacpp", "openai", "vllm"])
def engine(request, tiny_model_dir, tiny_gguf) -> Generator:
    if request.param == "vllm":
        reason = gpu_reason()
        if reason:
            pytest.skip(reason)
        return load_backend("vllm", model=tiny_model_dir, gpu_memory_utilization=0.2,
                            max_model_len=1024)
    if request.param == "transformers":
        return load_backend("transformers", model=tiny_model_dir, batch_size=2, dtype="float32")
    local = load_backend("llamacpp", model=tiny_gguf, parallel=4)   # llama.cpp: n <= slots
    if request.param == "llamacpp":
        return local
    return load_backend("openai", model="tiny", base_url=local.engine.url + "/v1",
                        api_key=local.engine.api_key, concurrency=3)


@pytest.fixture(scope="module")
def hf_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_is_a_generator(engine):
    assert isinstance(engine, Generator)
    assert engine.generate([], GenParams()) == [] and engine.generate_text([], GenParams()) == []


def test_one_completion_per_chat_in_order_and_n_per_chat(engine):
    outs = engine.generate(CHATS, GenParams(max_new_tokens=4))
    assert len(outs) == 3
    assert all(o.prompt_tokens > 5 and 0 < o.completion_tokens <= 4 for o in outs)
    # order: the longest prompt is the second one, whatever order the engine ran them in
    assert max(range(3), key=lambda i: outs[i].prompt_tokens) == 1
    sampled = engine.generate(CHATS[:2], GenParams(max_new_tokens=6, temperature=1.0,
                                                   num_return_sequences=3, seed=7))
    assert len(sampled) == 6
    assert sampled[0].prompt_tokens == sampled[2].prompt_tokens != sampled[3].prompt_tokens


def test_each_item_stops_at_its_own_limit(engine):
    prompts = [engine.format_chat(c) for c in CHATS]
    limits = [2, 9, 5]
    outs = engine.generate_text(prompts, GenParams(max_new_tokens=64), max_new_tokens=limits)
    for out, limit in zip(outs, limits):
        assert out.completion_tokens <= limit
        assert (out.finish_reason == "length") == (out.completion_tokens == limit)
    with pytest.raises(ValueError):
        engine.generate_text(prompts, GenParams(), max_new_tokens=[1])


def test_greedy_is_repeatable(engine):
    params = GenParams(max_new_tokens=6)
    first = engine.generate(CHATS, params)
    assert [o.text for o in engine.generate(CHATS, params)] == [o.text for o in first]


def test_token_counts_and_chat_format_agree_with_the_models_tokenizer(engine, hf_tokenizer):
    texts = ["hello world", "Bonjour, ça va ? 123", "<|im_start|>user\nping<|im_end|>"]
    want = [len(hf_tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    assert engine.count_tokens(texts) == want
    chat = [{"role": "user", "content": "ping"}]
    assert engine.format_chat(chat) == hf_tokenizer.apply_chat_template(
        chat, tokenize=False, add_generation_prompt=True)
