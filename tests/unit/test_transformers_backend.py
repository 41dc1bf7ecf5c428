from alignstack.backends.base import GenParams, Generator, load_backend
from alignstack.backends.transformers_backend import TransformersGenerator

QUESTIONS = ["Hi", "What is the capital of France, and why is it famous?", "Tell me a story."]


def test_batched_left_padded_generation_matches_one_by_one(tiny_model_dir):
    gen = load_backend("transformers", model=tiny_model_dir, batch_size=3, dtype="float32")
    assert isinstance(gen, Generator)
    prompts = [[{"role": "user", "content": q}] for q in QUESTIONS]
    params = GenParams(max_new_tokens=8)
    batched = gen.generate(prompts, params)
    single = [gen.generate([p], params)[0] for p in prompts]
    assert [c.text for c in batched] == [c.text for c in single]
    assert all(c.completion_tokens <= 8 and c.prompt_tokens > 5 for c in batched)
    assert gen.tokenizer.padding_side == "left"


def test_chat_template_and_sampling_shapes(tiny_model_dir):
    gen = TransformersGenerator(tiny_model_dir, batch_size=2, dtype="float32")
    text = gen.format_chat([{"role": "user", "content": "ping"}])
    assert "<|im_start|>user\nping<|im_end|>" in text and text.endswith("<|im_start|>assistant\n")
    outs = gen.generate([[{"role": "user", "content": q}] for q in QUESTIONS[:2]],
                        GenParams(max_new_tokens=4, temperature=1.0, num_return_sequences=3,
                                  seed=1))
    assert len(outs) == 6
    assert len({o.text for o in outs[:3]}) > 1   # sampled, not greedy copies
