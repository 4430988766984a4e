"""CrossEncoderJudge on a real sentence-transformers CrossEncoder: a tiny BERT the test builds offline.

Needs the ``minilm`` extra (sentence-transformers and torch); skipped without it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from langchain_costrouter.core.cache import CrossEncoderJudge


def _tiny_model(path: Path) -> None:
    torch = pytest.importorskip("torch", reason="the cross-encoder judge needs the minilm extra (torch)")
    pytest.importorskip("sentence_transformers", reason="the cross-encoder judge needs the minilm extra")
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    words = [
        "where",
        "is",
        "my",
        "order",
        "how",
        "do",
        "i",
        "cancel",
        "reset",
        "password",
        "can",
        "pay",
        "with",
        "paypal",
        "?",
        "the",
        "a",
    ]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    path.mkdir(parents=True)
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tok = BertTokenizerFast(vocab_file=str(path / "vocab.txt"))
    cfg = BertConfig(
        vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        num_labels=1, max_position_embeddings=64,
    )  # fmt: skip
    torch.manual_seed(0)
    BertForSequenceClassification(cfg).save_pretrained(path)
    tok.save_pretrained(path)


def test_cross_encoder_judge_scores_with_a_real_model(tmp_path: Path) -> None:
    path = tmp_path / "tiny-cross-encoder"
    _tiny_model(path)
    low = CrossEncoderJudge(str(path), threshold=0.0)  # every score in [0, 1] passes
    high = CrossEncoderJudge(str(path), threshold=1.0)
    score = low.score("where is my order ?", "how do i cancel my order ?")
    assert 0.0 <= score <= 1.0
    assert low.judge("where is my order ?", "how do i cancel my order ?").same
    assert not high.judge("where is my order ?", "how do i cancel my order ?").same
    # the score depends on the pair: the model reads both texts
    assert score != low.score("reset password", "can i pay with paypal ?")
