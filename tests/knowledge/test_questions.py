from __future__ import annotations

from types import SimpleNamespace

from knowledge import index
from knowledge.questions import base_verb, sentence_questions, title_questions


def test_gerund_titles_become_what_a_customer_asks_to_do():
    assert "how do I track my order?" in title_questions("Tracking your order")
    assert "I want to reset my password" in title_questions("Resetting your password")
    assert "can you help me cancel an order?" in title_questions("Cancelling an order", {"cancel"})
    assert "how do I place an order?" in title_questions("How to place an order")


def test_the_knowledge_bases_words_settle_the_verb():
    assert base_verb("changing", {"change"}) == "change"
    assert base_verb("creating", {"create"}) == "create"
    assert base_verb("shopping") == "shop"
    assert base_verb("thing") is None


def test_noun_titles_become_questions_about_the_topic():
    assert title_questions("Refund policy")[0] == "I have a question about refund policy"
    # A gerund before a noun may be a thing rather than an action: both readings are asked.
    asked = title_questions("Shipping options")
    assert "I have a question about shipping options" in asked and "how do I ship options?" in asked


def test_sentences_that_answer_a_question_are_turned_into_it():
    assert sentence_questions("To subscribe to the newsletter, enter your email.")[0] == "how do I subscribe to the newsletter?"
    assert sentence_questions("Items cannot be added to an existing order; place a new order instead.") == [
        "can items be added to an existing order?"
    ]
    assert sentence_questions("You can close your account from Settings.") == [
        "can I close my account from Settings?",
        "how do I close my account from Settings?",
    ]
    assert sentence_questions("We accept Visa (and PayPal).") == ["do you accept Visa?"]
    assert sentence_questions("If the email does not arrive, check spam.") == ["what do I do if the email does not arrive?"]
    assert sentence_questions("Standard delivery takes 3 to 5 business days.") == []


def test_index_views_hold_passages_sentences_and_generated_questions():
    article = SimpleNamespace(pk=7, title="Changing an order", locale="en")
    passage = SimpleNamespace(pk=70, heading="", text="An order can be changed until it ships. Items cannot be added.")
    views = index.views(article, [passage])
    kinds = {index._KIND[entry_id[0]] for entry_id, _, _ in views}
    assert kinds == {"passage", "sentence", "question"}
    texts = [text for _, text, _ in views]
    assert "how do I change an order?" in texts
    assert "can items be added?" in texts
    assert "Changing an order. An order can be changed until it ships." in texts
    assert len({entry_id for entry_id, _, _ in views}) == len(views)  # ids are unique


def test_articles_in_other_languages_get_no_english_questions():
    article = SimpleNamespace(pk=8, title="Cambiar un pedido", locale="es")
    passage = SimpleNamespace(pk=80, heading="", text="Un pedido se puede cambiar hasta que se envía.")
    kinds = {index._KIND[entry_id[0]] for entry_id, _, _ in index.views(article, [passage])}
    assert kinds == {"passage", "sentence"}
