""""Show the code" for the RNN & LSTM lab: plain torch lines that reproduce what the
student just did (the same weights, the same sequence, the same number of steps)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from playground.recurrent.cells import CellWeights, Encoded

if TYPE_CHECKING:
    from playground.recurrent.memory_task import MemoryConfig

TORCH_CLASS = {"rnn": "RNNCell", "lstm": "LSTMCell", "gru": "GRUCell"}
BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}
SHIPPED_FILE = "assets/models/memory-rnn-lstm/model.safetensors"


def _cell_lines(setup: Any, kind: str, weights: CellWeights, seed: int) -> list[str]:
    """Lines that create ``cell`` with the lab's weights, edits included."""
    size, inputs = weights.hidden_size, weights.input_size
    make = f"cell = torch.nn.{TORCH_CLASS[kind]}({inputs}, {size}).double()"
    if setup.source == "random":
        lines = [f"torch.manual_seed({seed})  # RANDOM weights: this cell was never trained", make]
    elif setup.source == "shipped":
        lines = ["from safetensors.torch import load_file", "",
                 f'state = load_file("{SHIPPED_FILE}")  # trained on the memory task', make,
                 f'cell.load_state_dict({{k: state[f"{kind}.{{k}}"].double() for k in '
                 '("weight_ih", "weight_hh", "bias_ih", "bias_hh")})']
    else:
        lines = ["# Your session's cell: rerun the race (see the Memory race tab's code), then",
                 "# snap.cells[kind].weights holds w_ih, w_hh, b_ih, b_hh as numpy arrays.", make]
    if setup.edit:
        lines += ["", f"H = {size}", "with torch.no_grad():",
                  f"    for W in cell.weight_hh.view({BLOCKS[kind]}, H, H):  # one H×H block per gate",
                  f"        W *= {setup.radius:g} / torch.linalg.eigvals(W).abs().max()"]
        if kind == "lstm":
            lines += [f"    cell.bias_ih[H:2 * H] = {setup.forget_bias:g}  # forget gate (order i, f, g, o)",
                      "    cell.bias_hh[H:2 * H] = 0.0"]
    return lines


def _input_lines(enc: Encoded) -> list[str]:
    if enc.vocab == ("x",):
        values = ", ".join(f"[{label}]" for label in enc.labels)
        return [f"x = torch.tensor([{values}], dtype=torch.float64)  # (T, 1)"]
    text = "".join(enc.labels)
    return [f"vocab = {''.join(enc.vocab)!r}",
            f"x = torch.eye(len(vocab), dtype=torch.float64)[[vocab.index(ch) for ch in {text!r}]]"
            "  # (T, I) one-hot"]


def step_code(setup: Any, weights: CellWeights, enc: Encoded, t: int) -> str:
    kind = weights.kind
    state = "(h, c)" if kind == "lstm" else "h"
    update = "h, c = cell(x[t:t + 1], (h, c))" if kind == "lstm" else "h = cell(x[t:t + 1], h)"
    lines = ["import torch", "", *_cell_lines(setup, kind, weights, setup.seed), "", *_input_lines(enc),
             f"h = torch.zeros(1, {weights.hidden_size}, dtype=torch.float64)  # h_0 = 0"]
    if kind == "lstm":
        lines.append("c = torch.zeros_like(h)  # c_0 = 0")
    lines += [f"for t in range({t}):  # the {t} steps you took", "    h_prev = h",
              f"    {update}", f'print("h_{t} =", h)']
    if kind == "lstm":
        lines.append(f'print("c_{t} =", c)')
    if t > 0:
        lines += ["", f"# the gates of step {t}, in torch's order "
                      f"({', '.join({'rnn': 'h', 'lstm': 'i f g o', 'gru': 'r z n'}[kind].split())}):",
                  "x_t = x[t:t + 1]",
                  "from_input = x_t @ cell.weight_ih.T + cell.bias_ih",
                  "from_hidden = h_prev @ cell.weight_hh.T + cell.bias_hh"]
        if kind == "lstm":
            lines += ["i, f, g, o = (from_input + from_hidden).chunk(4, dim=1)",
                      "print(i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid())"]
        elif kind == "gru":
            lines += ["(ri, zi, ni), (rh, zh, nh) = from_input.chunk(3, 1), from_hidden.chunk(3, 1)",
                      "r, z = (ri + rh).sigmoid(), (zi + zh).sigmoid()",
                      "print(r, z, (ni + r * nh).tanh())"]
        else:
            lines.append("print((from_input + from_hidden).tanh())")
    if setup.source == "shipped":
        lines += ["", "# what the trained read-out answers: P(first letter = A, B, C, D)",
                  f'print(torch.softmax(h @ state["{kind}.readout.weight"].double().T'
                  f' + state["{kind}.readout.bias"].double(), dim=-1))']
    return "\n".join(lines) + f"\n# {state} now holds exactly what the lab shows at step {t}.\n"


def gradient_code(setup: Any, enc: Encoded) -> str:
    """‖∂h_T/∂h_t‖ with autograd, shown for the random-weights LSTM (other cells alike)."""
    lines = ["import torch", "", *_input_lines(enc),
             f"torch.manual_seed({setup.seed})",
             f"cell = torch.nn.LSTMCell(x.shape[1], {setup.hidden}).double()  # or RNNCell / GRUCell",
             f"h = c = torch.zeros(1, {setup.hidden}, dtype=torch.float64)",
             "states = []",
             "for t in range(len(x)):",
             "    h, c = cell(x[t:t + 1], (h, c))",
             "    states.append(h)",
             "# the Jacobian ∂h_T/∂h_t, one row per unit of h_T",
             "for t, h_t in enumerate(states):",
             "    rows = [torch.autograd.grad(h[0, j], h_t, retain_graph=True)[0][0] for j in range(h.shape[1])]",
             "    print(t + 1, torch.linalg.matrix_norm(torch.stack(rows), ord=2).item())"]
    if setup.source != "random":
        lines.insert(2, "# (the lab used trained weights here: load them as in the stepper's code)")
    return "\n".join(lines) + "\n"


def race_code(cfg: "MemoryConfig", seed: int) -> str:
    return "\n".join([
        "import torch",
        "from playground.recurrent.memory_task import MemoryConfig, train_race",
        "",
        f"cfg = MemoryConfig(distractors={cfg.distractors}, hidden_size={cfg.hidden_size}, "
        f"max_steps={cfg.max_steps}, learning_rate={cfg.learning_rate})",
        f"for snap in train_race(cfg, seed={seed}):  # an nn.RNN and an nn.LSTM, same batches",
        "    print(snap.step, {kind: acc[-1] for kind, acc in snap.accuracy.items()})",
        "# inside: x, y = make_batch(32, N, gen); loss = F.cross_entropy(net(x), y); Adam step",
    ]) + "\n"
