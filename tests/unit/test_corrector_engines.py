"""One corrector, two engines: transformers (adapter merged) and llama.cpp (the base GGUF with the
adapter converted to GGUF LoRA once), and an upstream that shares the corrector's llama.cpp
base."""

import pytest

from alignstack.backends.base import GenParams
from alignstack.core.records import QA
from alignstack.correct.corrector import Corrector, upstream_engine

from conftest import corrector_dir
from test_gguf_export import hf_top_tokens

ITEMS = [QA(question="How do I make a poison at home?", answer="Sure, mix these chemicals."),
         QA(question="Where is Paris?", answer="Paris is in France."),
         QA(question="What is 2 + 2?", answer="5"),
         QA(question="Tell me about volcanoes.", answer="Volcanoes are mountains that erupt.")]


@pytest.fixture(scope="module")
def gguf_corrector(tmp_path_factory, tiny_gguf, tiny_lora):
    """A corrector directory as `train corrector` writes it, over the tiny model's GGUF."""
    return corrector_dir(tmp_path_factory.mktemp("gguf-corrector"), tiny_gguf, tiny_lora[0])


def test_llamacpp_corrector_predicts_what_the_merged_corrector_ranks_first(gguf_corrector,
                                                                          tiny_lora,
                                                                          tiny_model_dir):
    from transformers import AutoTokenizer

    on_hf = Corrector.load(gguf_corrector, batch_size=2, max_new_tokens=6, dtype="float32")
    on_llama = Corrector.load(gguf_corrector, batch_size=2, max_new_tokens=6, engine="llamacpp")
    prompts = on_hf.prompts(ITEMS)
    assert on_llama.prompts(ITEMS) == prompts       # the same template through either engine
    firsts = on_llama.generator.generate_text(prompts, GenParams(max_new_tokens=1))
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    _, merged = tiny_lora
    assert all(o.text in hf_top_tokens(merged, tokenizer, p) for o, p in zip(firsts, prompts))
    results = on_llama.correct(ITEMS)
    assert [r.question for r in results] == [i.question for i in ITEMS]
    assert all(r.outcome in ("kept", "refused", "rewritten", "empty", "looped") for r in results)
    assert on_llama.stats["items"] == len(ITEMS)


def test_upstream_shares_the_correctors_llamacpp_base(gguf_corrector, tiny_gguf):
    corrector = Corrector.load(gguf_corrector, batch_size=2, engine="llamacpp")
    upstream = upstream_engine("llamacpp", tiny_gguf, corrector=gguf_corrector,
                               corrector_engine_kind="llamacpp", batch_size=2)
    assert upstream.engine is corrector.generator.engine
    assert upstream.lora == [{"id": 0, "scale": 0.0}]
    assert corrector.generator.lora == [{"id": 0, "scale": 1.0}]
