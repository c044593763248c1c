"""The embedding module's two views of a text, and the triage model's fast lexical path."""

from __future__ import annotations

import numpy as np
import pytest

from tickets import embeddings, triage


@pytest.fixture
def model():
    embeddings.reset()
    current = embeddings.embedder()
    if not isinstance(current, embeddings.MiniLM):
        pytest.skip("needs the all-MiniLM-L6-v2 ONNX model (EMBEDDING_MODEL_DIR)")
    yield current
    embeddings.reset()


def test_features_are_the_sentence_embedding_beside_the_middle_layers(model):
    texts = ["where is my parcel?", "I want to cancel my order, it has been two weeks and nothing"]
    features = embeddings.features(texts)
    assert model.layers == embeddings.FEATURE_LAYERS
    assert features.shape == (2, embeddings.DIM * (1 + len(model.layers)))
    blocks = features.reshape(2, -1, embeddings.DIM)
    assert np.allclose(np.linalg.norm(blocks, axis=2), 1.0, atol=1e-5)
    # The first block is exactly what retrieval embeds, and the middle layers differ from it.
    assert np.allclose(embeddings.embed(texts), features[:, : embeddings.DIM])
    assert (np.abs(blocks[:, 1] - blocks[:, 0]).max(axis=1) > 0.05).all()


def test_batches_sorted_by_length_give_the_same_vectors_as_one_at_a_time(model):
    texts = ["hi", "a much longer message about a refund that never arrived at my bank", "ok thanks"]
    together = model.features(texts, batch_size=2)
    alone = np.vstack([model.features([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-4)


def test_a_training_batch_larger_than_the_cache_is_embedded_once(model, monkeypatch):
    monkeypatch.setattr(embeddings, "_CACHE_SIZE", 4)
    calls = []
    original = model.features
    monkeypatch.setattr(model, "features", lambda texts, *a, **k: calls.append(len(texts)) or original(texts, *a, **k))
    texts = [f"question number {i}" for i in range(10)]
    vectors = embeddings.features(texts)
    assert calls == [10] and vectors.shape[0] == 10
    assert np.allclose(embeddings.features(texts[-2:]), vectors[-2:])  # the last ones are remembered
    assert calls == [10]


def test_the_fast_lexical_transform_matches_scikit_learn():
    rows = triage.load_shipped_examples()
    vectorizer, _ = triage._fit_vectorizer([r["text"] for r in rows])
    texts = ["Where is order N-1042??", "", "çava? ünïcode and emoji 🙂", "refund refund refund please"]
    expected = vectorizer.transform([triage.normalise(t) for t in texts])
    got = triage._Lexical(vectorizer).transform([triage.normalise(t) for t in texts])
    assert got.shape == expected.shape
    assert abs(got - expected).max() < 1e-6


def test_grouped_card_numbers_are_not_order_numbers():
    assert triage.normalise("my card is 4111 1111 1111 1111") == "my card is cardnum"
    assert triage.normalise("order 113542617735902 please") == "order ordernum please"
