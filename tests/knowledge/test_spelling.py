from __future__ import annotations

import pytest

from knowledge.spelling import Speller, model_vocabulary, words_of

# A toy general vocabulary, commonest first (the rank a WordPiece vocabulary gives).
GENERAL = {w: i for i, w in enumerate("the of and to how can want help my order item money back payment where".split())}
KB = words_of("Add items to your cart. Subscribe to the newsletter. Shipping is free over $50.")


def speller() -> Speller:
    return Speller(kb_words=KB, general=GENERAL)


def test_misspelt_words_become_the_knowledge_bases_words():
    assert speller().correct("how to addd an item") == "how to add an item"
    assert speller().correct("sign up to ur newslewtter") == "sign up to ur newsletter"
    assert speller().correct("is shiping free") == "is shipping free"


def test_general_words_fix_what_the_knowledge_base_lacks():
    assert speller().correct("I want my mpney back") == "I want my money back"
    assert speller().correct("pamyent") == "payment"  # two letters swapped


def test_run_together_words_are_split():
    assert speller().correct("myorder") == "my order"
    assert speller().correct("iwant help") == "I want help"


def test_known_words_short_words_and_inflections_are_left_alone():
    s = speller()
    assert s.correct("Subscribe to the NEWSLETTER") == "Subscribe to the NEWSLETTER"
    assert s.correct("ok so") == "ok so"  # too short to guess
    assert s.correct("items ordering") == "items ordering"  # inflections of known words
    assert s.correct("zyxwv") == "zyxwv"  # nothing close: unchanged


def test_contractions_typed_without_apostrophe_keep_their_meaning():
    assert speller().correct("i dont know and cant log in") == "i don't know and can't log in"


def test_first_letter_is_kept_so_real_words_are_not_turned_into_others():
    # "rebate" is one letter from "debate", but people rarely mistype the first letter.
    s = Speller(kb_words=set(), general={"debate": 10, "the": 0})
    assert s.correct("rebate") == "rebate"


def test_with_the_models_vocabulary():
    if not model_vocabulary():
        pytest.skip("no embedding model folder")
    s = Speller(kb_words=words_of("Refunds go back to the original payment method."))
    assert s.correct("i want a reimbursement for my pamyent") == "i want a reimbursement for my payment"
    assert s.correct("informtaion about refnds") == "information about refunds"
