""""Show the code" for the RNN & LSTM lab: plain torch lines that reproduce what the
student just did (the same weights, edits and sequence, the same number of steps). The
panels never import this repo: a student pastes them into a notebook."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from playground.recurrent.cells import GATES, CellWeights, Encoded
from playground.service.model_service import get_service

if TYPE_CHECKING:
    from playground.recurrent.memory_task import MemoryConfig

SHIPPED_ID = "neural-playground/memory-rnn-lstm"
TORCH_CELLS = '{"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}'
PARAMETERS = '("weight_ih", "weight_hh", "bias_ih", "bias_hh")'


def shipped_file() -> str:
    """The shipped weights' real path on this machine, written out in the panels."""
    return str(get_service().resolve(SHIPPED_ID).path / "model.safetensors")


def _make_cell_lines(setup: Any, hidden: int, inputs: int) -> list[str]:
    """``def make_cell(kind)``: a float64 torch cell holding the lab's weights, edits included."""
    lines = [f"H, I = {hidden}, {inputs}  # hidden units, one-hot input columns", "",
             "def make_cell(kind):",
             f"    cell = {TORCH_CELLS}[kind](I, H)"]
    if setup.source == "random":
        lines += [f"    generator = torch.Generator().manual_seed({setup.seed})  # RANDOM: never trained",
                  "    for p in cell.parameters():  # torch's default init U(-1/√H, 1/√H), our generator",
                  "        torch.nn.init.uniform_(p, -H ** -0.5, H ** -0.5, generator=generator)",
                  "    cell = cell.double()"]
    elif setup.source == "shipped":
        lines += ["    cell = cell.double()",
                  f"    cell.load_state_dict({{k: state[f\"{{kind}}.{{k}}\"].double() for k in {PARAMETERS}}})"]
    else:
        lines += ["    cell = cell.double()  # your session's cells: run the Memory race's code first",
                  "    layer = nets[kind].cell  # the nn.RNN / nn.LSTM it trained",
                  f"    cell.load_state_dict({{k: getattr(layer, k + \"_l0\").double() for k in {PARAMETERS}}})"]
    if setup.set_radius or setup.set_forget:
        lines.append("    with torch.no_grad():")
    if setup.set_radius:
        lines += ["        for W in cell.weight_hh.view(-1, H, H):  # one H×H block per gate",
                  f"            W *= {setup.radius:g} / torch.linalg.eigvals(W).abs().max()"]
    if setup.set_forget:
        lines += ['        if kind == "lstm":  # the forget gate: rows H..2H (order i, f, g, o)',
                  f"            cell.bias_ih[H:2 * H] = {setup.forget_bias:g}",
                  "            cell.bias_hh[H:2 * H] = 0.0"]
    lines.append("    return cell")
    if setup.source == "shipped":
        lines = ["from safetensors.torch import load_file", "",
                 f'state = load_file("{shipped_file()}")  # trained on the memory task', *lines]
    return lines


def _input_lines(enc: Encoded) -> list[str]:
    if enc.mode == "numbers":
        values = ", ".join(f"[{label}]" for label in enc.labels)
        return [f"x = torch.tensor([{values}], dtype=torch.float64)  # (T, 1)"]
    text = "".join(enc.labels)
    return [f"vocab = {''.join(enc.vocab)!r}",
            f"x = torch.eye(len(vocab), dtype=torch.float64)[[vocab.index(ch) for ch in {text!r}]]"
            "  # (T, I) one-hot"]


def _print_vector(name: str, expr: str) -> str:
    return f'print("{name} =", [round(v, 6) for v in {expr}[0].tolist()])'


def step_code(setup: Any, weights: CellWeights, enc: Encoded, t: int) -> str:
    kind = weights.kind
    update = "h, c = cell(x[t:t + 1], (h, c))" if kind == "lstm" else "h = cell(x[t:t + 1], h)"
    lines = ["import torch", "", *_make_cell_lines(setup, weights.hidden_size, weights.input_size), "",
             *_input_lines(enc), f'cell = make_cell("{kind}")',
             "h = torch.zeros(1, H, dtype=torch.float64)  # h_0 = 0"]
    if kind == "lstm":
        lines.append("c = torch.zeros_like(h)  # c_0 = 0")
    lines += ["with torch.no_grad():", f"    for t in range({t}):  # the {t} steps you took",
              "        h_prev = h", f"        {update}", _print_vector(f"h_{t}", "h")]
    if kind == "lstm":
        lines.append(_print_vector(f"c_{t}", "c"))
    if t > 0:
        gates = ["x_t = x[t:t + 1]",
                 "from_input = x_t @ cell.weight_ih.T + cell.bias_ih",
                 "from_hidden = h_prev @ cell.weight_hh.T + cell.bias_hh"]
        if kind == "lstm":
            gates += ["i, f, g, o = (from_input + from_hidden).chunk(4, dim=1)",
                      *(_print_vector(name, expr) for name, expr in (
                          ("i", "i.sigmoid()"), ("f", "f.sigmoid()"), ("g", "g.tanh()"), ("o", "o.sigmoid()")))]
        elif kind == "gru":
            gates += ["(ri, zi, ni), (rh, zh, nh) = from_input.chunk(3, 1), from_hidden.chunk(3, 1)",
                      "r, z = (ri + rh).sigmoid(), (zi + zh).sigmoid()",
                      _print_vector("r", "r"), _print_vector("z", "z"), _print_vector("n", "(ni + r * nh).tanh()")]
        else:
            gates.append(_print_vector("h", "(from_input + from_hidden).tanh()"))
        lines += ["", f"# the gates of step {t}, in torch's order ({', '.join(GATES[kind])}):",
                  "with torch.no_grad():", *(f"    {line}" for line in gates)]
    if setup.source == "shipped":
        lines += ["", "# what the trained read-out answers: P(first letter = A, B, C, D)",
                  _print_vector("P", f'torch.softmax(h @ state["{kind}.readout.weight"].double().T'
                                     f' + state["{kind}.readout.bias"].double(), dim=-1)')]
    return "\n".join(lines) + f"\n# these are exactly the numbers the lab shows at step {t}.\n"


def gradient_code(setup: Any, weights: CellWeights, enc: Encoded) -> str:
    """The gradient norms of all three cells with autograd: ∂h_T/∂h_t, and for the LSTM
    the cell-state path ∂c_T/∂c_t and ∂h_T/∂c_t."""
    lines = ["import torch", "", *_make_cell_lines(setup, weights.hidden_size, weights.input_size), "", *_input_lines(enc), "",
             "def jacobian_norm(target, source):  # largest singular value of ∂target/∂source",
             "    rows = [torch.autograd.grad(target[0, j], source, retain_graph=True)[0][0] for j in range(H)]",
             "    return torch.linalg.matrix_norm(torch.stack(rows), ord=2).item()",
             "",
             'for kind in ("rnn", "lstm", "gru"):',
             "    cell = make_cell(kind)",
             "    h = c = torch.zeros(1, H, dtype=torch.float64)",
             "    hs, cs = [], []  # every h_t and c_t, kept in the autograd graph",
             "    for t in range(len(x)):",
             '        if kind == "lstm":',
             "            h, c = cell(x[t:t + 1], (h, c))",
             "            cs.append(c)",
             "        else:",
             "            h = cell(x[t:t + 1], h)",
             "        hs.append(h)",
             '    print(kind, "dh_T/dh_t", [f"{jacobian_norm(h, h_t):.6e}" for h_t in hs])',
             '    if kind == "lstm":  # the cell-state path',
             '        print(kind, "dc_T/dc_t", [f"{jacobian_norm(c, c_t):.6e}" for c_t in cs])',
             '        print(kind, "dh_T/dc_t", [f"{jacobian_norm(h, c_t):.6e}" for c_t in cs])']
    return "\n".join(lines) + "\n"


def race_code(cfg: MemoryConfig, seed: int) -> str:
    """The whole race in plain torch: the task, the two nets, the curriculum, Adam."""
    length = ("min(N, max(2, int(N * step / (STEPS * CURRICULUM))))  # the curriculum: N grows"
              if cfg.curriculum > 0 else "N")
    return "\n".join([
        "import torch",
        "import torch.nn.functional as F",
        "",
        f"N, H, STEPS, SEED, LR, CURRICULUM = {cfg.distractors}, {cfg.hidden_size}, {cfg.max_steps}, "
        f"{seed}, {cfg.learning_rate}, {cfg.curriculum}",
        "",
        "def make_batch(batch, n, generator):",
        "    y = torch.randint(4, (batch,), generator=generator)  # the letter: A B C D",
        "    digits = torch.randint(4, (batch, n), generator=generator)  # N distractors: 0 1 2 3",
        "    symbols = torch.cat([y[:, None], 4 + digits], dim=1)  # (B, 1 + N) over 'ABCD0123'",
        "    return F.one_hot(symbols, 8).float(), y",
        "",
        "class MemoryNet(torch.nn.Module):",
        "    def __init__(self, layer, generator):",
        "        super().__init__()",
        "        self.cell = layer(8, H, batch_first=True)",
        "        self.readout = torch.nn.Linear(H, 4)  # h_T -> a score per letter",
        "        for p in self.parameters():  # torch's default U(-1/√H, 1/√H), from our generator",
        "            torch.nn.init.uniform_(p, -H ** -0.5, H ** -0.5, generator=generator)",
        "        if layer is torch.nn.LSTM:  # start by remembering: forget bias 1.5 + 1.5 = 3",
        "            with torch.no_grad():",
        "                self.cell.bias_ih_l0[H:2 * H] = 1.5",
        "                self.cell.bias_hh_l0[H:2 * H] = 1.5",
        "",
        "    def forward(self, x):",
        "        states, _ = self.cell(x)  # (B, T, H)",
        "        return self.readout(states[:, -1])",
        "",
        "nets = {kind: MemoryNet(layer, torch.Generator().manual_seed(SEED))  # the same start: a fair race",
        '        for kind, layer in (("rnn", torch.nn.RNN), ("lstm", torch.nn.LSTM))}',
        "optimizers = {kind: torch.optim.Adam(net.parameters(), lr=LR) for kind, net in nets.items()}",
        "data = torch.Generator().manual_seed(SEED)",
        "test_x, test_y = make_batch(256, N, torch.Generator().manual_seed(SEED + 1))",
        "for step in range(1, STEPS + 1):",
        f"    n = {length}",
        "    x, y = make_batch(32, n, data)  # both nets see the same batch",
        "    for kind, net in nets.items():",
        "        loss = F.cross_entropy(net(x), y)",
        "        optimizers[kind].zero_grad()",
        "        loss.backward()",
        "        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)  # an exploding RNN stays finite",
        "        optimizers[kind].step()",
        "with torch.no_grad():",
        "    for kind, net in nets.items():",
        '        print(kind, "accuracy", (net(test_x).argmax(-1) == test_y).float().mean().item())',
    ]) + "\n"
