"""Customer questions made from an article's own words by generic templates.

Customers ask ("how do I change my order?", "can I add an item?"); articles state ("An order
can be changed until it ships"). A question generated from the title or a sentence sits much
closer to the way customers write than the statement does. The templates are English grammar,
not knowledge of any business: a gerund title becomes a verb phrase ("Tracking your order" →
"track my order"), "To X, ..." and "You can X" become "how do I X", "X can/cannot be Yed"
becomes "can X be Yed", "We X" becomes "do you X", an instruction ("Add items to your cart")
becomes "how do I add items to my cart?".

Customers mostly ask in the frames of the verb-phrase templates ("I want to ...", "can you help
me ..."), whatever the title's grammar. A noun title ("Cancellation fees") therefore gets those
frames too, around a neutral verb ("how do I find out about cancellation fees?"): with topic
frames alone, an article named by a noun lost to one named by an action on the frame rather than
on what was asked. Measured hit@1 / hit@3 on bitext_kb, then on the demo articles asked the
shipped intent examples (472; any article of the intent counts): before, 83.0 / 97.3 and
79.2 / 91.3 (identifiers marked, see `retrieval.query_text`); with instruction questions
83.5 / 97.4 and 79.2 / 91.3; with noun titles in verb frames as well 85.3 / 97.9 and 79.0 / 91.5.
The neutral verb matters little ("check", "know about", "find out about" all gave 84.3 to 84.6
on bitext_kb before identifiers were marked).
"""

from __future__ import annotations

import re

from knowledge.spelling import model_vocabulary

# The voice flips from the article's ("your order") to the customer's ("my order").
_VOICE = {"your": "my", "yours": "mine", "you": "I", "you're": "I'm", "yourself": "myself", "we": "you", "our": "your", "us": "you"}
_VERB_PHRASE_TEMPLATES = ("how do I {vp}?", "I want to {vp}", "can you help me {vp}?", "I need help to {vp}")
_TOPIC_TEMPLATES = ("I have a question about {np}", "where can I find {np}?", "tell me about {np}")
_GO_TO = re.compile(r"^(?:go|head) to .+? to (?P<vp>.+)$", re.I)
_TOPIC_VERB = "find out about"  # puts a noun title in the verb-phrase templates' frames
# Verbs that open an instruction in help-centre writing: "Choose Checkout", "Start a return".
_INSTRUCTION_VERBS = frozenset(
    "add ask attach call check choose click confirm contact create download drop email enter fill find follow go "
    "install keep log mark open pick press print remove request reset restart select send set sign start tap turn "
    "type update upload use visit write".split()
)
_PASSIVE = re.compile(
    r"^(?P<subject>[\w' -]+?) (?:can|cannot|can not|can't|may|must) be (?P<verb>\w+ed|\w+en)\b(?P<rest>.*)$", re.I
)
_PURPOSE = re.compile(r"^to (?P<vp>[^,;:]+)[,;:]", re.I)
_YOU_CAN = re.compile(r"^you can (?:also )?(?P<vp>[^,;:]+)", re.I)
_WE = re.compile(r"^we (?:also )?(?P<verb>[a-z]+) (?P<rest>[^,;:]+)", re.I)
_IF = re.compile(r"^if (?P<cond>[^,;:]+)[,;:]", re.I)
_AUXILIARIES = frozenset({"are", "were", "have", "had", "will", "would", "can", "cannot", "do", "may", "might", "must", "should"})
_STATEMENT_VERBS = _AUXILIARIES | {"is", "be"}
_HOW_TO = re.compile(r"^how to (?P<vp>.+)$", re.I)
_PARENS = re.compile(r"\s*\([^)]*\)?")  # an aside in brackets (even one left open)
_GERUND = re.compile(r"^(?P<verb>[a-z]+ing)\b(?P<rest>.*)$", re.I)


def base_verb(gerund: str, known: frozenset[str] | set[str] = frozenset()) -> str | None:
    """The verb of a gerund: "creating" → "create", "resetting" → "reset", "tracking" → "track".

    None when the word is no gerund. `known` (the knowledge base's words) settles "changing":
    "change", not "chang"; then the embedding model's vocabulary, then English spelling rules.
    """
    word = gerund.lower()
    if not word.endswith("ing") or len(word) < 6:
        return None
    stem = word[:-3]
    known_words = {w.lower() for w in known}
    rank = model_vocabulary()
    if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "aeiou":
        # "adding" → "add", but "shopping" → "shop", "cancelling" → "cancel".
        return stem if stem in known_words or stem in rank else stem[:-1]
    # "changing" could be "chang" or "change": the word the knowledge base uses, else the commoner one.
    candidates = (stem, stem + "e")
    in_kb = [c for c in candidates if c in known_words]
    if in_kb:
        return in_kb[0]
    ranked = sorted((rank[c], c) for c in candidates if c in rank)
    if ranked:
        return ranked[0][1]
    # No vocabulary to check against: prefer the plain stem unless it ends like a dropped "e".
    return stem + "e" if re.search(r"[^aeiou][aeiou][^aeiouwxy]$", stem) else stem


_OBJECT_STARTS = frozenset(
    "a an the your my our his her their this that these those some any up out in on off to for with from "
    "between into about over back down".split()
)


def _starts_object(rest: str) -> bool:
    words = rest.split()
    return not words or words[0].lower() in _OBJECT_STARTS


def _clause(sentence: str) -> str:
    """The sentence without parentheses and without what follows a colon or semicolon."""
    sentence = _PARENS.sub("", sentence)
    return re.split(r"[;:]", sentence)[0].strip().rstrip(".!?,")


def _customer_voice(text: str) -> str:
    words = text.strip().rstrip(".!?").split()
    return " ".join(_VOICE.get(w.lower(), w) for w in words)


def _verb_phrase_questions(vp: str) -> list[str]:
    vp = _customer_voice(vp)
    return [t.format(vp=vp) for t in _VERB_PHRASE_TEMPLATES] if vp else []


def title_questions(title: str, known: frozenset[str] | set[str] = frozenset(), *, heading: bool = False) -> list[str]:
    """Questions a customer would ask to find this title (`heading`: a part of an article's)."""
    title = title.strip().rstrip(".?!")
    how_to = _HOW_TO.match(title)
    if how_to:
        return _verb_phrase_questions(how_to["vp"])
    gerund = _GERUND.match(title)
    verb = base_verb(gerund["verb"], known) if gerund else None
    np = _customer_voice(title.lower())
    topic = [t.format(np=np) for t in _TOPIC_TEMPLATES]
    # Only a title competes with other articles' titles on its frames; a heading's questions
    # count among the article's sentences, where four more per heading only add chances for a
    # stray match (on the demo articles, with their many headings, they cost hit@1).
    about = [] if heading else _verb_phrase_questions(f"{_TOPIC_VERB} {np}")
    if not verb:
        return topic + about
    action = _verb_phrase_questions(f"{verb}{gerund['rest']}")
    # "Tracking your order" is an action; "Shipping options" may be a thing: ask both ways.
    return action if _starts_object(gerund["rest"]) else action[:2] + topic[:1] + about


def _instruction(clause: str) -> str | None:
    """The first step of an instruction, as a verb phrase: "Add items to your cart, choose
    Checkout" → "add items to your cart"; None for a statement ("Open orders must be paid")."""
    step = clause.split(",")[0].strip()
    words = step.split()
    if not words or words[0].lower() not in _INSTRUCTION_VERBS:
        return None
    if any(w.lower() in _STATEMENT_VERBS for w in words[1:]):
        return None
    # "Go to Account > Profile to change your name": the purpose is what a customer asks for.
    purpose = _GO_TO.match(step)
    if purpose:
        return purpose["vp"]
    return words[0].lower() + step[len(words[0]) :]


def sentence_questions(sentence: str) -> list[str]:
    """Questions the sentence answers, when its grammar says so; [] otherwise."""
    purpose = _PURPOSE.match(_PARENS.sub("", sentence.strip()))
    if purpose:
        return _verb_phrase_questions(purpose["vp"])[:2]
    condition = _IF.match(sentence.strip())
    if condition:
        return [f"what do I do if {_customer_voice(condition['cond'])}?"]
    sentence = _clause(sentence)
    instruction = _instruction(sentence)
    if instruction:
        return _verb_phrase_questions(instruction)[:2]
    you_can = _YOU_CAN.match(sentence)
    if you_can:
        vp = _customer_voice(you_can["vp"])
        return [f"can I {vp}?", f"how do I {vp}?"]
    passive = _PASSIVE.match(sentence)
    if passive:
        asked = f"can {_customer_voice(passive['subject']).lower()} be {passive['verb'].lower()}"
        rest = _customer_voice(passive["rest"])
        return [f"{asked} {rest}?" if rest else f"{asked}?"]
    we = _WE.match(sentence)
    verb = we["verb"].lower() if we else ""
    if we and not verb.endswith(("ed", "ing")) and verb not in _AUXILIARIES:
        return [f"do you {verb} {_customer_voice(we['rest'])}?"]
    return []
