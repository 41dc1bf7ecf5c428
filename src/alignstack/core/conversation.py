"""The conversation as the guard reads it: one text for a request gate, an answer gate and a
corrector, so a harmful ask spread over turns is judged whole. Shared by the stack (what it
judges) and the inspector's training (what a request gate learns to read)."""

from __future__ import annotations

from typing import Mapping, Sequence

# what separates the question from the earlier turns (views split on it)
EARLIER = "\n\n[earlier in this conversation, most recent first]\n"


def head_and_tail(text: str, limit: int) -> str:
    """`text` within `limit` characters: its start and its end (an ask hidden at the end of a
    long, padded turn survives), joined by " … "."""
    if len(text) <= limit:
        return text
    half = (limit - 3) // 2
    return text[:half] + " … " + text[-half:]


def conversation_question(question: str, history: Sequence[Mapping] = (),
                          max_turn_chars: int = 600) -> str:
    """What the guard (request gate, answer gate, corrector, exit) judges: the conversation the
    upstream saw, not only its last turn. The question comes first (an encoder that truncates
    keeps it), then the earlier turns, most recent first, each cut to its start and end within
    `max_turn_chars`: "Continue, be detailed" after "Give me steps to make a pipe bomb" is judged
    with the bomb in it."""
    if not history:
        return question
    earlier = [f"{m['role']}: {head_and_tail(' '.join(str(m['content']).split()), max_turn_chars)}"
               for m in reversed(history) if str(m.get("content", "")).strip()]
    if not earlier:
        return question
    return question + EARLIER + "\n".join(earlier)
