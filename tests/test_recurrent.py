"""The recurrent core against torch: our equations vs nn.RNNCell / LSTMCell / GRUCell
(float64, 1e-6 over a whole sequence), our hand-written backprop vs autograd, the
bidirectional view vs nn.LSTM(bidirectional=True), and the student-input checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from playground.recurrent import cells as rec

TOL = 1e-6  # the bound; float64 actually agrees to ~1e-15


def torch_unroll(cell: torch.nn.Module, kind: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """h (and c) of torch's own cell over the sequence, from zero state."""
    size = cell.hidden_size
    h = torch.zeros(1, size, dtype=torch.float64)
    c = torch.zeros(1, size, dtype=torch.float64)
    hs, cs = [], []
    with torch.no_grad():
        for x_t in torch.from_numpy(x):
            if kind == "lstm":
                h, c = cell(x_t[None], (h, c))
                cs.append(c[0].numpy().copy())
            else:
                h = cell(x_t[None], h)
            hs.append(h[0].numpy().copy())
    return np.stack(hs), (np.stack(cs) if kind == "lstm" else None)


def independent_cell(kind: str, inputs: int, size: int, seed: int) -> torch.nn.Module:
    """A torch cell made without our code, with biases pushed off zero."""
    torch.manual_seed(seed)
    cls = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[kind]
    cell = cls(inputs, size).double()
    with torch.no_grad():
        for p in cell.parameters():
            p.mul_(2.0)  # larger than the default init, so the gates leave their linear range
    return cell


@pytest.mark.parametrize("kind", rec.CELL_KINDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_our_equations_equal_the_torch_cell_over_a_sequence(kind, seed):
    cell = independent_cell(kind, inputs=5, size=6, seed=seed)
    weights = rec.weights_from_torch(kind, dict(cell.named_parameters()))
    x = np.random.default_rng(seed).normal(size=(20, 5))
    trace = rec.unroll(weights, x)
    h_ref, c_ref = torch_unroll(cell, kind, x)
    np.testing.assert_allclose(trace.h, h_ref, atol=TOL, rtol=0)
    if kind == "lstm":
        np.testing.assert_allclose(trace.c, c_ref, atol=TOL, rtol=0)
    assert len(trace.steps) == 20 and trace.steps[0].h_prev.tolist() == [0.0] * 6


def test_lstm_gates_equal_torch_gate_formula():
    """Each displayed gate equals torch's chunked pre-activation through its nonlinearity."""
    cell = independent_cell("lstm", 3, 4, seed=2)
    w = rec.weights_from_torch("lstm", dict(cell.named_parameters()))
    x, h, c = np.array([1.0, -0.5, 0.2]), np.array([0.1, -0.2, 0.3, 0.0]), np.array([0.5, -1.0, 0.0, 2.0])
    s = rec.lstm_step(w, x, h, c)
    with torch.no_grad():
        pre = (torch.from_numpy(x) @ cell.weight_ih.T + cell.bias_ih
               + torch.from_numpy(h) @ cell.weight_hh.T + cell.bias_hh)
    i, f, g, o = pre.chunk(4)
    for name, ref in zip("ifgo", (i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid())):
        np.testing.assert_allclose(s.gates[name], ref.numpy(), atol=1e-12)
    np.testing.assert_allclose(s.c, s.gates["f"] * c + s.gates["i"] * s.gates["g"], atol=1e-12)


@pytest.mark.parametrize("kind", rec.CELL_KINDS)
def test_random_weights_are_torch_default_init_from_a_generator(kind):
    cls = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[kind]
    ref = cls(4, 3)
    generator = torch.Generator().manual_seed(7)
    for p in ref.parameters():
        torch.nn.init.uniform_(p, -3 ** -0.5, 3 ** -0.5, generator=generator)
    w = rec.random_weights(kind, 4, 3, seed=7)
    np.testing.assert_allclose(w.w_hh, ref.weight_hh.detach().double().numpy(), atol=0)
    np.testing.assert_allclose(w.b_ih, ref.bias_ih.detach().double().numpy(), atol=0)
    assert not np.allclose(w.w_hh, rec.random_weights(kind, 4, 3, seed=8).w_hh)


def test_random_weights_leave_the_global_generator_alone():
    before = torch.random.get_rng_state()
    rec.random_weights("lstm", 4, 3, seed=1)
    assert torch.equal(before, torch.random.get_rng_state())


@pytest.mark.parametrize("kind", rec.CELL_KINDS)
def test_edits_set_spectral_radius_and_forget_bias_and_still_match_torch(kind):
    w = rec.edit_weights(rec.random_weights(kind, 4, 5, seed=3), spectral_radius=1.7, forget_bias=-3.0)
    assert all(abs(r - 1.7) < 1e-9 for r in rec.spectral_radii(w).values())
    if kind == "lstm":
        _, _, b_i, b_h = w.block("f")
        np.testing.assert_allclose(b_i + b_h, -3.0)
    x = np.random.default_rng(3).normal(size=(8, 4))
    h_ref, _ = torch_unroll(rec.torch_cell(w), kind, x)
    np.testing.assert_allclose(rec.unroll(w, x).h, h_ref, atol=TOL)


def test_forget_bias_controls_the_forget_gate_and_the_memory():
    x = rec.encode_chars("A000000000", tuple("A0")).x
    base = rec.random_weights("lstm", 2, 4, seed=0)
    remember, forget = rec.edit_weights(base, forget_bias=5.0), rec.edit_weights(base, forget_bias=-3.0)
    assert rec.unroll(remember, x).gate("f").min() > 0.95
    assert rec.unroll(forget, x).gate("f").max() < 0.15
    assert rec.gradient_norms(remember, x).c_from_c[0] > 100 * rec.gradient_norms(forget, x).c_from_c[0]


def autograd_norms(w: rec.CellWeights, x: np.ndarray) -> dict[str, np.ndarray]:
    """The norms of ∂h_T/∂h_t (and ∂h_T/∂c_t, ∂c_T/∂c_t) by torch autograd, one backward
    pass per unit of the target, through torch's own cell."""
    cell = rec.torch_cell(w)
    h = torch.zeros(1, w.hidden_size, dtype=torch.float64)
    c = torch.zeros_like(h)
    hs, cs = [], []
    for x_t in torch.from_numpy(x):
        if w.kind == "lstm":
            h, c = cell(x_t[None], (h, c))
            cs.append(c)
        else:
            h = cell(x_t[None], h)
        hs.append(h)

    def norm(target: torch.Tensor, source: torch.Tensor) -> float:
        rows = [torch.autograd.grad(target[0, j], source, retain_graph=True)[0][0] for j in range(w.hidden_size)]
        return torch.linalg.matrix_norm(torch.stack(rows), ord=2).item()

    norms = {"h_from_h": np.array([norm(h, h_t) for h_t in hs])}
    if w.kind == "lstm":
        norms["h_from_c"] = np.array([norm(h, c_t) for c_t in cs])
        norms["c_from_c"] = np.array([norm(c, c_t) for c_t in cs])
    return norms


@pytest.mark.parametrize("kind", rec.CELL_KINDS)
def test_hand_written_backprop_equals_autograd(kind):
    w = rec.edit_weights(rec.random_weights(kind, 3, 5, seed=4), spectral_radius=1.4, forget_bias=1.0)
    x = np.random.default_rng(4).normal(size=(12, 3))
    ours, reference = rec.gradient_norms(w, x), autograd_norms(w, x)
    for path, values in reference.items():
        np.testing.assert_allclose(getattr(ours, path), values, rtol=1e-9, atol=1e-14)
    if kind != "lstm":
        assert ours.h_from_c is None and ours.c_from_c is None


def test_rnn_gradient_is_the_product_of_diag_tanh_prime_times_w_hh():
    w = rec.random_weights("rnn", 2, 3, seed=5)
    x = np.random.default_rng(5).normal(size=(6, 2))
    h = rec.unroll(w, x).h
    jac = np.eye(3)
    for t in range(5, 2, -1):  # ∂h_6/∂h_3 (1-based) = J_6 J_5 J_4
        jac = jac @ (np.diag(1 - h[t] ** 2) @ w.w_hh)
    assert rec.gradient_norms(w, x).h_from_h[2] == pytest.approx(np.linalg.norm(jac, 2), rel=1e-12)


def test_rnn_gradients_vanish_and_explode_with_the_spectral_radius():
    x = rec.encode_chars("A" + "0" * 29, tuple("A0")).x
    base = rec.random_weights("rnn", 2, 8, seed=0)
    small = rec.gradient_norms(rec.edit_weights(base, spectral_radius=0.5), x).h_from_h
    assert small[0] < 1e-6 and small[-1] == pytest.approx(1.0)
    lstm = rec.edit_weights(rec.random_weights("lstm", 2, 8, seed=0), spectral_radius=0.5, forget_bias=6.0)
    assert rec.gradient_norms(lstm, x).c_from_c[0] > 0.5  # the cell state carries it


def test_echo_is_the_run_minus_the_zero_first_input_run():
    w = rec.random_weights("lstm", 1, 3, seed=0)
    x = rec.encode_numbers("1, 0, 0, 0").x
    echo = rec.echo_of_first_input(w, x)
    zero = rec.unroll(w, np.zeros_like(x))
    np.testing.assert_allclose(echo.h, rec.unroll(w, x).h - zero.h, atol=0)
    np.testing.assert_allclose(echo.c, rec.unroll(w, x).c - zero.c, atol=0)
    assert rec.echo_of_first_input(rec.random_weights("gru", 1, 3, seed=0), x).c is None


def test_bidirectional_equals_torch_bidirectional_lstm():
    torch.manual_seed(0)
    layer = torch.nn.LSTM(4, 3, bidirectional=True, batch_first=True).double()
    params = dict(layer.named_parameters())
    fw = rec.weights_from_torch("lstm", params)
    bw = rec.weights_from_torch("lstm", {k.replace("_reverse", ""): v for k, v in params.items()
                                         if k.endswith("_reverse")})
    enc = rec.encode_chars("ABCA", tuple("ABCD"))
    both = rec.bidirectional(fw, bw, enc)
    with torch.no_grad():
        out, _ = layer(torch.from_numpy(enc.x)[None])
    np.testing.assert_allclose(both.concat, out[0].numpy(), atol=TOL)
    assert both.concat.shape == (4, 6)


def test_encode_chars_and_numbers():
    enc = rec.encode_chars("ba a")
    assert enc.vocab == (" ", "a", "b") and enc.labels == ("b", "a", "␣", "a")
    np.testing.assert_array_equal(enc.x.argmax(axis=1), [2, 1, 0, 1])
    nums = rec.encode_numbers("1, 0.5 -2")
    assert nums.x.shape == (3, 1) and nums.labels == ("1", "0.5", "-2")
    emoji = rec.encode_chars("🙂a🙂")
    assert len(emoji.labels) == 3


@pytest.mark.parametrize("text, fragment", [
    ("", "empty"), ("   ", "empty"), (None, "empty"), ("x" * 10_000, "at most 100"),
    (12, "must be text"),
])
def test_bad_sequences_give_clear_messages(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        rec.encode_chars(text)


@pytest.mark.parametrize("text, fragment", [
    ("1, two", "not a number"), ("nan", "not a finite"), ("inf", "not a finite"), ("1e9", "too large"),
    (", ".join(["1"] * 101), "at most 100"),
])
def test_bad_numbers_give_clear_messages(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        rec.encode_numbers(text)


def test_trained_vocabulary_refuses_unknown_symbols():
    with pytest.raises(ValueError, match="trained on the symbols"):
        rec.encode_chars("A01x", tuple("ABCD0123"))


@pytest.mark.parametrize("size", [0, -1, 17, 10**6, float("nan"), 2.5, "big", None])
def test_bad_hidden_sizes_are_refused(size):
    with pytest.raises(ValueError, match="hidden size"):
        rec.check_hidden_size(size)


def test_edit_sliders_refuse_nan_and_clamp_with_a_note():
    with pytest.raises(ValueError, match="NaN"):
        rec.check_edits(float("nan"), 0.0)
    with pytest.raises(ValueError, match="NaN"):
        rec.check_edits(1.0, float("nan"))
    radius, bias, note = rec.check_edits(50, -100)
    assert (radius, bias) == (3.0, -10.0) and "allowed" in note


# --- the stepper's question: how much of the first symbol is left ---------------------------

def test_echo_left_reads_the_memory_k_steps_later_and_names_its_band():
    sizes = np.array([2.0, 1.5, 1.2, 1.1, 1.05, 1.02, 0.1])  # ‖echo_t‖ per step
    h = np.stack([sizes, np.zeros_like(sizes)], axis=1)  # (T, H): the norm is the first column
    for later, band in ((1, rec.ECHO_BANDS[0]), (5, rec.ECHO_BANDS[0]), (6, rec.ECHO_BANDS[2])):
        left = rec.echo_left(rec.Echo(h, None), later)
        assert left.state == "h" and left.share == pytest.approx(sizes[later] / 2.0) and left.band == band
    lstm = rec.echo_left(rec.Echo(h, 0.3 * h), 3)  # the LSTM's memory is c_t, not h_t
    assert lstm.state == "c" and lstm.share == pytest.approx(0.55)
    fading = np.array([[1.0], [0.5], [0.3], [0.2], [0.15], [0.12]])
    assert [rec.echo_left(rec.Echo(fading, None), k).band for k in (1, 5)] == [rec.ECHO_BANDS[1]] * 2
    assert rec.echo_left(rec.Echo(h[:5], None), 5) is None  # too short to ask
    assert rec.echo_left(rec.Echo(np.zeros((7, 2)), None), 5) is None  # no trace at all
