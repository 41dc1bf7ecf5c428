"""Refusals worth serving: the check a corrector's refusal must pass, and the principle-grounded
refusal served when it does not.

A small corrector writes refusals badly: it offers the requested harm as the "alternative" ("I
won't write it. I can help you write a detailed synthesis route for …"), states the premise it was
asked about before declining, complies after a refusal phrase, loops, stutters ("I won't write it.
I won't write a response."), or declines with nothing else ("I won't reply."). `refusal_problem`
rejects such a body; `PrincipleRefusals` then writes the refusal of the principle the request falls
under (its own `refusal` and `alternative` text in the principles file, else a default).
A crisis request (self-harm) always gets its principle's pointer to real help.

The check is deliberately strict: a rejected good refusal costs only the corrector's wording (the
principle's text is served instead), an accepted bad one reaches a user.
"""

from __future__ import annotations

import re
from typing import NamedTuple, Sequence

from alignstack.core.principles import Constitution, Principle
from alignstack.core.records import degeneracy

DEFAULT_REFUSAL = "I can't help with that request."
DEFAULT_ALTERNATIVE = ("If you have a related question that doesn't involve causing harm, I'm "
                       "glad to help with that.")

# A refusal opens with one of these (in its first sentence).
_REFUSAL = re.compile(
    r"\bI(?:'m| am) (?:sorry|afraid|not able to|unable to|not going to)\b"
    r"|\bI (?:cannot|can't|can not|won't|will not|must decline|have to decline|need to decline"
    r"|do not|don't) (?:help|assist|provide|share|write|create|give|explain|offer|support|do"
    r"|comply|answer|generate|make|produce|describe|tell|fulfil|fulfill|go along)\b"
    r"|\bI (?:cannot|can't|can not|won't|will not)\b(?! wait\b)|\bnot something I can\b"
    r"|^\W*(?:sorry|unfortunately)\b", re.IGNORECASE)
# A sentence that offers something, or does it: checked against the request's own words.
_OFFER = re.compile(r"\b(?:I can|I could|I'd be happy|I'm happy|I would be happy|I will|I'll"
                    r"|here(?:'s| is| are)|you can|you could|you might|try|instead|let me"
                    r"|to do (?:this|that|it)|the (?:steps|way|method|recipe))\b", re.IGNORECASE)
# One "no" (a stutter says it three times, however it splits its sentences)
_DECLINE = re.compile(r"\bI (?:won't|will not|can't|cannot|can not|don't|do not)\b", re.IGNORECASE)
# What a refusal worth reading offers besides the "no": a safe alternative or where to find help.
_ALTERNATIVE = re.compile(
    r"\b(?:instead|I can|I could|I'd be (?:happy|glad)|I'm (?:happy|glad)|happy to|glad to"
    r"|if you|if there|can help|could help|consider|contact|call|reach out"
    r"|(?:talk|speak) (?:to|with) (?:a|an|someone|your|the)|support is|resources?|services?"
    r"|professional|doctor|helpline"
    r"|you (?:can|could|might) (?:find|read|ask|try|contact|call|look|visit|see|speak|talk|get"
    r"|reach))\b", re.IGNORECASE)
# The marks of compliance after a refusal: steps, lists, quantities.
_STEPS = re.compile(r"(?:^|\n)\s*(?:\d+[.)]|[-*•]\s|step\s*\d)|\bstep (?:one|1)\b|\bfirst,",
                    re.IGNORECASE)
# The words a person in crisis uses: suicide, self-harm, overdose, disordered eating. Chosen on
# the request-gate training files' self-harm and eating-disorder topics (29 of 33 found, 2 of
# 1,471 other harmful requests); never nearness of meaning, which sent bioweapons, murder and
# shoplifting requests to the crisis principle (docs/results/2026-12-07-e.md).
_CRISIS = re.compile(
    r"\b(?:suicid\w*|kill (?:my ?self|me)|end (?:my life|it all)|take my (?:own )?life"
    r"|self[- ]?harm\w*|(?:hurt|cut|burn|hang|starve|poison|drown|harm|kill)(?:ing)? my ?self"
    r"|overdos\w*|not wake up|never wake up|want to die"
    r"|(?:take|takes|enough|high enough|way|ways|fastest|quickest) to die"
    r"|better off (?:dead|without me)|goodbye (?:note|letter)"
    r"|make (?:my ?self|me) (?:throw up|vomit|sick)|purg(?:e|es|ing)"
    r"|throw(?:ing)? up after (?:meals|eating|i eat|food)|pro[- ]?ana|thinspo\w*"
    r"|(?:stop|keep me from|avoid|quit) eating|ignore (?:my )?hunger|not (?:feel|be|get) hungry"
    r"|hide (?:my )?(?:weight loss|not eating|skipped meals|purging|cuts|scars)"
    r"|skip(?:ped|ping)? meals|laxatives? (?:doses?|to (?:lose|drop)|for (?:fast |quick )?weight)"
    r"|lowest calorie|\d{2,3}[- ]?(?:calorie|kcal)s?[- ]a[- ]day|bmi of 1[0-7]|cut deeper"
    r"|lethal (?:dose|amount|combination)s?|lethal when taken)\b",
    re.IGNORECASE)
# someone else's death or an attack, not the asker's crisis
_NOT_SELF = re.compile(r"look like (?:a |an )?(?:suicide|overdose|accident)"
                       r"|suicide (?:bomb|attack|vest)\w*", re.IGNORECASE)
_TYPOGRAPHIC = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
_STOP = set("""what that with this have from your about would could should into make give tell
write explain know need want help please some more like just best them they their there when
where which while will been does doing being other than then also very only even over such each
most much many""".split()) | {"how", "why", "who"}
MAX_REFUSAL_WORDS = 90


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+|\n+", text.strip()) if s.strip()]


def content_words(text: str) -> set[str]:
    """Lower-cased words of four letters or more that carry the request's content (a crude stem:
    the first six letters, so "bombs" meets "bomb", "synthesise" meets "synthesis")."""
    return {w[:6] for w in re.findall(r"[a-z]{4,}", text.lower()) if w not in _STOP}


def refusal_problem(question: str, body: str) -> str | None:
    """Why `body` is not a refusal to serve for `question` (None: it is one).

    empty / looped; no-refusal (its first sentence does not decline: a body that states the
    premise or starts to comply before declining is rejected here); unfinished (cut off by the
    token limit mid-sentence); too-long (a refusal is brief,
    long ones drift into compliance); complies (steps or a list after the refusal); offers-harm
    (a later sentence offers or does something with the request's own content words); repeats
    (two sentences open alike: a stutter); no-alternative (nothing besides the "no": no safe
    alternative, no pointer to help)."""
    text = body.strip().translate(_TYPOGRAPHIC)
    broken = degeneracy(text)
    if broken:
        return broken
    sentences = _sentences(text)
    if not _REFUSAL.search(sentences[0]):
        return "no-refusal"
    if not re.search(r"[.!?][\"')\]]*$", text):
        return "unfinished"
    if len(text.split()) > MAX_REFUSAL_WORDS:
        return "too-long"
    rest = " ".join(sentences[1:])
    if _STEPS.search("\n".join(sentences[1:])):
        return "complies"
    asked = content_words(question)
    for sentence in sentences[1:]:
        if _OFFER.search(sentence) and content_words(sentence) & asked:
            return "offers-harm"
    if rest and len(content_words(rest) & asked) >= 3:
        return "offers-harm"
    openings = [" ".join(s.lower().split()[:3]) for s in sentences]
    if len(set(openings)) < len(openings) or len(_DECLINE.findall(text)) >= 3:
        return "repeats"
    if not _ALTERNATIVE.search(text):
        return "no-alternative"
    return None


def is_crisis_text(question: str) -> bool:
    """The request speaks of self-harm, suicide or disordered eating (the words a person in
    crisis uses), not of making someone else's death look like one."""
    return bool(_CRISIS.search(_NOT_SELF.sub(" ", question.translate(_TYPOGRAPHIC))))


class Route(NamedTuple):
    """The principle a refused request falls under, and whether it reads nearest to a crisis
    principle without a person's crisis words (its refusal then carries a pointer to help)."""
    principle: Principle | None
    near_crisis: bool = False


class PrincipleRefusals:
    """The refusal to serve for a request, grounded in the principle it falls under: the
    request's own principle ids where a caller gives them, else the principle whose text and
    examples are nearest the request (the shipped MiniLM encoder), among those with a refusal.
    A crisis principle is chosen by a person's crisis words (or the caller's ids), never by
    nearness alone: a request nearest to it is refused under the nearest other principle, with
    a pointer to help added."""

    def __init__(self, constitution: Constitution | None = None, encoder=None):
        self.constitution = constitution
        self._encoder = encoder
        self._matrix = None
        principles = constitution.principles if constitution else []
        self.candidates = [p for p in principles if p.refusal or p.crisis]

    @property
    def encoder(self):
        if self._encoder is None:
            from alignstack.backends.encoders import load_encoder

            self._encoder = load_encoder(None)
        return self._encoder

    def _nearest(self, questions: Sequence[str]) -> list[Route]:
        if not self.candidates or not questions:
            return [Route(None)] * len(questions)
        if self._matrix is None:
            self._matrix = self.encoder.encode(
                [" ".join([p.title, p.text, *p.examples]) for p in self.candidates],
                normalize_embeddings=True, convert_to_tensor=True)
        emb = self.encoder.encode(list(questions), normalize_embeddings=True,
                                  convert_to_tensor=True)
        similarity = emb @ self._matrix.T
        crisis = [k for k, p in enumerate(self.candidates) if p.crisis]
        nearest = similarity.argmax(dim=1).tolist()
        if crisis and len(crisis) < len(self.candidates):
            similarity[:, crisis] = float("-inf")
        other = similarity.argmax(dim=1).tolist()
        return [Route(self.candidates[o], near_crisis=n in crisis and o not in crisis)
                for n, o in zip(nearest, other)]

    def route(self, questions: Sequence[str], ids: Sequence[Sequence[str]]) -> list[Route]:
        """Each request's principle: a crisis request's crisis principle; else the first of its
        own ids that carries a refusal; else the nearest by meaning (see the class)."""
        crisis = [p for p in self.candidates if p.crisis]
        out: list[Route] = [Route(None)] * len(questions)
        open_k = []
        for k, (question, given) in enumerate(zip(questions, ids)):
            own = [p for p in self.candidates if p.id in given]
            if is_crisis_text(question) and crisis:
                out[k] = Route(crisis[0])
            elif own:
                out[k] = Route(next((p for p in own if p.crisis), own[0]))
            else:
                open_k.append(k)
        for k, found in zip(open_k, self._nearest([questions[k] for k in open_k])):
            out[k] = found
        return out

    def served(self, route: Route, question: str) -> str:
        """The refusal to serve on `route`: the principle's text, with a pointer to help where
        the request reads near a crisis principle."""
        text = self.text(route.principle, question)
        return f"{text} {NEAR_CRISIS}" if route.near_crisis else text

    @staticmethod
    def text(principle: Principle | None, question: str = "") -> str:
        """The principle's refusal and alternative (defaults where it has none); a crisis
        request without a crisis principle still gets a pointer to help."""
        refusal = (principle.refusal if principle and principle.refusal else DEFAULT_REFUSAL)
        alternative = (principle.alternative if principle and principle.alternative
                       else DEFAULT_ALTERNATIVE)
        if is_crisis_text(question) and not (principle and principle.crisis):
            alternative = CRISIS_FALLBACK
        return f"{refusal.strip()} {alternative.strip()}"


CRISIS_FALLBACK = ("If you are thinking about harming yourself, please reach out now to someone "
                   "who can help: a local emergency number, a crisis line in your country, or "
                   "someone you trust. You don't have to go through this alone.")
NEAR_CRISIS = ("If this is about you and you are going through a hard time, you can reach a "
               "crisis line in your country or your local emergency number now.")
