"""The attention core against torch's own attention, and the real model's attentions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from playground.transformer import attention as att
from playground.service.model_service import DEFAULT_ENCODER, get_service

TOL = 1e-5


def _x(T: int = 7, d_model: int = 16, seed: int = 1) -> torch.Tensor:
    return torch.randn(T, d_model, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("causal", [False, True])
def test_scaled_dot_product_matches_torch(causal: bool) -> None:
    q, k, v = (torch.randn(3, 6, 5, generator=torch.Generator().manual_seed(s)) for s in (1, 2, 3))
    ours = att.scaled_dot_product(q, k, v, att.causal_mask(6) if causal else None)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    assert torch.allclose(ours.output, ref, atol=TOL)
    assert torch.allclose(ours.weights.sum(-1), torch.ones(3, 6), atol=TOL)
    if causal:  # nothing above the diagonal: no token sees the future
        assert torch.all(ours.weights.triu(1) == 0)
        assert torch.isinf(ours.scores.triu(1)[..., 0, 1:]).all()


@pytest.mark.parametrize("n_heads,causal", [(1, False), (4, False), (4, True), (8, True)])
def test_multi_head_matches_nn_multihead_attention(n_heads: int, causal: bool) -> None:
    d_k, T = 4, 7
    d_model = n_heads * d_k  # nn.MultiheadAttention needs embed_dim = heads × head width
    p = att.random_projections(d_model, att.AttentionConfig(d_k=d_k, n_heads=n_heads, seed=3))
    # Non-zero biases so that those are checked too.
    gen = torch.Generator().manual_seed(9)
    p = att.Projections(p.w_q, p.w_k, p.w_v, p.w_o, *(torch.randn(b.shape, generator=gen)
                                                      for b in (p.b_q, p.b_k, p.b_v, p.b_o)))
    x = _x(T, d_model)
    mha = torch.nn.MultiheadAttention(d_model, n_heads, batch_first=True, bias=True)
    with torch.no_grad():  # torch stores W transposed: y = x Wᵀ + b
        mha.in_proj_weight.copy_(torch.cat([p.w_q.T, p.w_k.T, p.w_v.T]))
        mha.in_proj_bias.copy_(torch.cat([p.b_q, p.b_k, p.b_v]))
        mha.out_proj.weight.copy_(p.w_o.T)
        mha.out_proj.bias.copy_(p.b_o)
    mask = ~att.causal_mask(T) if causal else None  # torch: True = NOT allowed
    ref_out, ref_w = mha(x[None], x[None], x[None], attn_mask=mask, need_weights=True,
                         average_attn_weights=False)
    ours = att.multi_head_attention(x, p, n_heads, causal)
    assert ours.q.shape == (n_heads, T, d_k) and ours.concat.shape == (T, d_model)
    assert torch.allclose(ours.output, ref_out[0], atol=TOL)
    assert torch.allclose(ours.weights, ref_w[0], atol=TOL)
    assert torch.allclose(ours.weights.sum(-1), torch.ones(n_heads, T), atol=TOL)
    # Each head is plain scaled dot-product attention on its own slice.
    assert torch.allclose(ours.heads, F.scaled_dot_product_attention(ours.q, ours.k, ours.v, is_causal=causal),
                          atol=TOL)


def test_random_projections_depend_on_seed_only() -> None:
    cfg = att.AttentionConfig(d_k=4, n_heads=2, seed=5)
    a, b = att.random_projections(8, cfg), att.random_projections(8, cfg)
    c = att.random_projections(8, att.AttentionConfig(d_k=4, n_heads=2, seed=6))
    assert torch.equal(a.w_q, b.w_q) and not torch.equal(a.w_q, c.w_q)
    assert a.w_q.shape == (8, 8) and a.w_o.shape == (8, 8)


def test_hand_config_clamps_with_a_note_and_refuses_nan() -> None:
    cfg, notes = att.hand_config(500, 0, True, 1)
    assert (cfg.d_k, cfg.n_heads, cfg.causal) == (att.MAX_D_K, 1, True) and len(notes) == 2
    with pytest.raises(ValueError):
        att.hand_config(float("nan"), 2, False, 0)


def test_attention_alone_ignores_word_order_positions_do_not() -> None:
    x = _x(9, 16)
    p = att.random_projections(16, att.AttentionConfig(d_k=4, n_heads=2, seed=0))
    order = att.shuffle_order(9, seed=4)
    assert sorted(order) == list(range(9)) and order != tuple(range(9))
    plain = att.shuffle_test(x, p, 2, order)
    assert plain.change.max() < 1e-5  # the same outputs, only moved
    with_pe = att.shuffle_test(x, p, 2, order, positional=True)
    assert with_pe.positional and with_pe.change.max() > 0.05


def test_vectors_from_text() -> None:
    toy = att.toy_vectors("the cat the", DEFAULT_ENCODER)
    assert toy.vectors.shape == (3, att.TOY_D_MODEL)
    assert torch.equal(toy.vectors[0], toy.vectors[2])  # same token, same vector
    emb = att.model_word_embeddings("one two " * 40, DEFAULT_ENCODER)
    assert emb.vectors.shape == (att.MAX_HAND_TOKENS, 384) and emb.truncated
    with pytest.raises(ValueError):
        att.toy_vectors("   ", DEFAULT_ENCODER)


# --- the real model ----------------------------------------------------------------------

def test_model_attention_shapes_rows_and_cache() -> None:
    text = "The cat sat on the mat because it was tired."
    m = att.model_attention(DEFAULT_ENCODER, text)
    T = len(m.tokens)
    assert m.attentions.shape == (6, 12, T, T) and m.tokens[0] == "[CLS]"
    # Cached as float16: each weight is within 2^-11 relative, so a row sums to 1 within 1e-3.
    assert m.attentions.dtype == np.float16
    assert np.allclose(m.attentions.astype(np.float32).sum(-1), 1.0, atol=1e-3)
    assert not m.causal and m.sentence_b_start is None
    loads = get_service().loads
    again = att.model_attention(DEFAULT_ENCODER, text)
    assert again is m and get_service().loads == loads  # one forward pass per (model, text)


def test_model_attention_matches_transformers_directly() -> None:
    """Our cached tensors are exactly what the model returns (an independent call)."""
    loaded = get_service().load(DEFAULT_ENCODER, "AutoModel", eager_attention=True)
    text = "Attention is all you need."
    enc = loaded.tokenizer(text, return_tensors="pt")
    with torch.inference_mode():
        ref = loaded.model(**enc, output_attentions=True).attentions
    m = att.model_attention(DEFAULT_ENCODER, text)
    assert np.allclose(m.layer(3)[5], ref[3][0, 5].numpy(), atol=5e-4)  # float16 cache


def test_sentence_pair_and_truncation_are_reported() -> None:
    m = att.model_attention(DEFAULT_ENCODER, "The cat sat.", "It slept.")
    assert m.tokens[m.sentence_b_start] == "it" and m.tokens[m.sentence_b_start - 1] == "[SEP]"
    huge = att.model_attention(DEFAULT_ENCODER, "word " * 10_000, max_tokens=5000)
    assert len(huge.tokens) == 512 and huge.n_tokens_full > 10_000
    assert any("512" in note for note in huge.notes)


@pytest.mark.parametrize("text", ["?!... ,,, ;;", "I love 🍕 and 🐍!", "Ünïcödé ñ 日本語"])
def test_odd_text_gives_sensible_attention(text: str) -> None:
    m = att.model_attention(DEFAULT_ENCODER, text)
    assert len(m.tokens) >= 3 and np.isfinite(m.attentions).all()


def test_empty_text_and_offline_hub_id_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="empty"):
        att.model_attention(DEFAULT_ENCODER, "   ")
    with pytest.raises(ValueError, match="offline|not reachable"):
        att.model_attention("gpt2", "hello")


def test_entropy_and_top_tokens_on_hand_values() -> None:
    one_hot = np.zeros((1, 2, 4, 4))
    one_hot[0, 0, :, 0] = 1.0  # head 0: every query looks at token 0
    one_hot[0, 1] = 0.25  # head 1: spread evenly
    entropy = att.head_entropy(one_hot)
    assert entropy[0, 0] == pytest.approx(0.0) and entropy[0, 1] == pytest.approx(2.0)
    m = att.ModelAttention("x", ("[CLS]", "a", "b", "[SEP]"), one_hot.astype(np.float32), None,
                           False, 4, 4, ())
    top = att.top_attended(m, 0, k=2)
    assert top[0].top[0] == ("[CLS] (#0)", pytest.approx(1.0))
    assert att.check_layer_head(m, 99, "average") == (0, None)
    assert att.check_layer_head(m, 0, 7) == (0, 1)  # clamped into range


def test_head_patterns_name_clark_et_al_heads() -> None:
    T = 5
    previous = np.eye(T, k=-1)
    previous[0, 0] = 1.0  # the first token has no previous one: it looks at itself
    patterns = att.head_patterns(previous, ("[CLS]", "a", "b", "c", "[SEP]"))
    assert max(patterns, key=patterns.get) == "previous token" and patterns["previous token"] == 0.8
    to_sep = np.zeros((T, T))
    to_sep[:, 4] = 1.0
    assert att.head_patterns(to_sep, ("[CLS]", "a", "b", "c", "[SEP]"))["[SEP]"] == 1.0
