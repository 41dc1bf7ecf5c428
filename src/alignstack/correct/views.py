"""Views of a request for the request gate: the text itself plus what an attacker hid in it.

A classifier of the question reads the words it is given. A request written in base64, spelled
backwards, in leetspeak ("p1p3 b0mb"), with Cyrillic look-alike letters or zero-width spaces in
its words, or placed after a long benign preamble (an encoder truncates at its maximum length and
reads only the preamble) reaches it as words it was never trained on. `guard_views(text)` gives
the text and its decoded views; the request gate's score of a request is the MAX over them
(`max_over_views`), so a view can only raise a score, never lower one. Each view exists only
where it differs from the text, so a plain question is scored once.

The views, all deterministic and cheap (no model):
- unicode: NFKC (full-width, mathematical and circled letters), format characters (zero-width
  spaces and joiners, soft hyphens) and invisible fillers removed, Cyrillic and Greek letters that
  look Latin mapped to those letters, combining marks dropped;
- base64: each base64-looking segment that decodes to mostly printable text, decoded in place
  (twice at most, for double encoding), then unicode-folded;
- unscrambled (three views): each segment (split at newlines, colons, quotes) replaced by its
  reversal, its words reversed in place, or its ROT13, where that holds more common English
  words than the segment does;
- leetspeak: 4->a 3->e 1->i 0->o 5->s 7->t @->a $->s inside words (of up to 24 characters)
  that mix them with letters, and then in one-character words (a second view reads 1 as l when
  a folded word has a 1);
- spelled out: letters with one separator between them ("b o m b", "b.o.m.b") joined;
- tails: for a long question (over `LONG` characters), its last sentences (the shortest end that
  starts at a sentence or a line and holds `SENTENCES` characters) and its last `TAIL`
  characters, each alone and decoded. When the text is a conversation
  (`stack.conversation_question`), the tails are the question's, not the earlier turns';
  `conversation_views` adds the tails of long earlier turns as sent (the conversation text keeps
  only each turn's first characters).

Disguises are undone in the first `HEAD` characters and in the tails only, so a 1 MB body costs
a few milliseconds and a few views, not a pass over the whole body per view.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata
from typing import Callable, Sequence, TypeVar

from alignstack.core.conversation import EARLIER

LONG = 600           # a question longer than this also has its ends scored alone
TAIL = 400           # characters in its last end (`tail`)
SENTENCES = 60       # its last sentences: at least this many characters
HEAD = 4000          # disguises are undone in this many first characters (and in the ends)

INVISIBLE = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800", "\u180e"}  # fillers, blanks
CONFUSABLES = str.maketrans({
    # Cyrillic (and Latin ɡ)
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d",
    "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l", "ь": "b", "ɡ": "g",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "У": "Y", "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S", "Ԁ": "D", "Ԛ": "Q", "Ԝ": "W",
    # Greek
    "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "γ": "y",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
})
LEET = {"4": "a", "3": "e", "1": "i", "0": "o", "5": "s", "7": "t", "@": "a", "$": "s"}
COMMON = frozenset("""
a about after all an and any are as at be been before best but by can could did do does
don't easy every for from get give go good has have help her his how i if in into is it its
just know let like make me my need no not now of on one or our out people please quick safe
say see she should show so some step steps such tell than that the their them then there they
this to up us use want was way we what when where which who why will with without would write
you your
""".split())

_B64 = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{12,}={0,2}(?![A-Za-z0-9+/=_-])")
_SEGMENTS = re.compile(r"([\n:\"“”«»|]+)")
_WORD = re.compile(r"[a-z']+")
_SPACED = re.compile(r"(?<!\w)(?:[^\W\d_][ .\-_*+]){2,}[^\W\d_](?!\w)")

T = TypeVar("T")


def fold_unicode(text: str) -> str:
    """Look-alikes and hidden characters folded: NFKC, format and invisible characters removed,
    Cyrillic/Greek letters that look Latin mapped to them, combining marks dropped."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf" and c not in INVISIBLE)
    text = unicodedata.normalize("NFD", text.translate(CONFUSABLES))
    return unicodedata.normalize("NFC", "".join(c for c in text
                                                if unicodedata.category(c) != "Mn"))


def _printable(data: bytes) -> str | None:
    """`data` as text when it is UTF-8 and mostly printable words, else None."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.strip():
        return None
    printable = sum(c.isprintable() or c in "\n\t\r" for c in text) / len(text)
    letters = sum(c.isalpha() for c in text) / len(text)
    return text if printable >= 0.9 and (letters >= 0.5 or " " in text) else None


def _decode_segment(segment: str) -> str | None:
    body = segment.rstrip("=")
    if len(body) % 4 == 1:
        return None
    padded = body + "=" * (-len(body) % 4)
    for alphabet in (None, b"-_"):
        try:
            data = base64.b64decode(padded, altchars=alphabet, validate=True)
        except (binascii.Error, ValueError):
            continue
        decoded = _printable(data)
        if decoded is not None:
            return decoded
    return None


def decode_base64(text: str, rounds: int = 2) -> str:
    """Every base64-looking segment that decodes to printable text, decoded in place."""
    for _ in range(rounds):
        decoded = _B64.sub(lambda m: _decode_segment(m.group(0)) or m.group(0), text)
        if decoded == text:
            break
        text = decoded
    return text


def common_words(text: str) -> int:
    """How many of the text's words are common English words."""
    return sum(w in COMMON for w in _WORD.findall(text.lower()))


UNSCRAMBLE = {
    "reversed": lambda s: s[::-1],
    "words-reversed": lambda s: " ".join(w[::-1] for w in s.split(" ")),
    "rot13": lambda s: codecs.encode(s, "rot13"),
}


def _unscramble_segment(segment: str, how: str) -> str:
    core = segment.strip()
    if not core:
        return segment
    changed = UNSCRAMBLE[how](core)
    gained = common_words(changed)
    if gained < 2 or gained <= common_words(core):
        return segment
    start = len(segment) - len(segment.lstrip())
    return segment[:start] + changed + segment[start + len(core):]


def unscramble(text: str, how: str) -> str:
    """Each segment (between newlines, colons, quotes) `how` unscrambled (reversed,
    words-reversed, rot13) where that reads as more common English words than it did."""
    return "".join(part if _SEGMENTS.fullmatch(part) else _unscramble_segment(part, how)
                   for part in _SEGMENTS.split(text))


def fold_leet(text: str, one: str = "i") -> str:
    """Leetspeak folded inside words that mix letters with its digits/symbols (and, in a text
    that has such words, in one-character words: "4" is "a"); `one`: what 1 stands for."""
    table = str.maketrans({**LEET, "1": one})

    def mixed(word: str) -> bool:
        return (len(word) <= 24 and any(c.isalpha() for c in word)
                and any(c in LEET for c in word))

    words = text.split()
    if not any(mixed(w) for w in words):
        return text
    return re.sub(r"\S+", lambda m: m.group(0).translate(table)
                  if mixed(m.group(0)) or m.group(0) in LEET else m.group(0), text)


def join_spaced(text: str) -> str:
    """Letters spelled out with one separator between them ("b o m b", "b.o.m.b") joined."""
    return _SPACED.sub(lambda m: re.sub(r"[ .\-_*+]", "", m.group(0)), text)


def tail(text: str, size: int = TAIL) -> str:
    """The last `size` characters, starting at a word."""
    cut = text[-size:]
    space = cut.find(" ")
    return cut[space + 1:] if 0 <= space < size // 4 else cut


def last_sentences(text: str, least: int = SENTENCES) -> str:
    """The shortest end of the text that starts at a sentence or line and holds at least
    `least` characters (the ask after a preamble), at most `TAIL` (else `tail`)."""
    starts = [m.end() for m in re.finditer(r"[.!?]\s+|\n", text)]
    start = next((s for s in reversed(starts) if len(text) - s >= least), None)
    return text[start:] if start is not None and len(text) - start <= TAIL else tail(text)


def tails(text: str) -> list[str]:
    """The ends of a long question alone: its last sentences and its last `TAIL` characters."""
    return [last_sentences(text), tail(text)] if len(text) > LONG else []


def decoded(text: str) -> list[str]:
    """The views of `text` that undo one disguise (unicode, base64, unscrambled, leetspeak,
    spelled out), those that differ from it."""
    folded = fold_unicode(text)
    views = [folded, fold_unicode(decode_base64(folded)),
             *(unscramble(folded, how) for how in UNSCRAMBLE), fold_leet(folded),
             join_spaced(folded)]
    if any("1" in w for w in re.findall(r"\S+", folded) if fold_leet(w) != w):
        views.append(fold_leet(folded, one="l"))
    return [v for v in dict.fromkeys(views) if v != text]


def guard_views(text: str) -> list[str]:
    """The text itself first, then each view of it that differs (module docstring). The
    disguises are undone in the first `HEAD` characters (a gate reads fewer) and in the ends of
    a long question, so a view costs at most that much work whatever the text's length."""
    views = [text, *decoded(text[:HEAD])]
    for end in tails(text.split(EARLIER, 1)[0]):
        views += [end, *decoded(end)]
    return list(dict.fromkeys(views))


def conversation_views(question: str, history: Sequence[dict], judged: str) -> list[str]:
    """The views of `judged` (the conversation text the guard judges) plus the ends of long
    earlier turns as sent: `conversation_question` keeps only each turn's first characters, so a
    padded ask in an earlier turn is read here."""
    views = guard_views(judged)
    for message in history:
        if message.get("role") != "assistant":
            for end in tails(str(message.get("content", ""))):
                views += [end, *decoded(end)]
    return list(dict.fromkeys(views))


def max_over_views(score: Callable[[list[str]], Sequence[T]], texts: Sequence[str],
                   views: Callable[[str], list[str]] = guard_views) -> list[T]:
    """Per text, the max of `score` over its views, all scored in one call (`score` maps texts
    to numbers or flags; for flags the max is any)."""
    per_text = [views(t) for t in texts]
    return max_over_view_lists(score, per_text)


def max_over_view_lists(score: Callable[[list[str]], Sequence[T]],
                        per_text: Sequence[Sequence[str]]) -> list[T]:
    """`max_over_views` for views already made: one list of views per text."""
    flat = [v for views in per_text for v in views]
    scores = list(score(flat)) if flat else []
    if len(scores) != len(flat):
        raise ValueError(f"the scorer returned {len(scores)} scores for {len(flat)} texts")
    out, start = [], 0
    for views in per_text:
        out.append(max(scores[start:start + len(views)]))
        start += len(views)
    return out
