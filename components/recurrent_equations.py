"""The equations of the stepped cell as Markdown + LaTeX, with the actual numbers of one
step substituted for one unit, and a table of every unit."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from playground.recurrent.cells import GATES, Step

LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]

SYMBOLIC = {
    "rnn": r"h_t = \tanh(W_{ih}\,x_t + b_{ih} + W_{hh}\,h_{t-1} + b_{hh})",
    "lstm": r"\begin{aligned} i_t &= \sigma(W_{ii}x_t + b_{ii} + W_{hi}h_{t-1} + b_{hi}) & "
            r"f_t &= \sigma(W_{if}x_t + b_{if} + W_{hf}h_{t-1} + b_{hf}) \\ "
            r"g_t &= \tanh(W_{ig}x_t + b_{ig} + W_{hg}h_{t-1} + b_{hg}) & "
            r"o_t &= \sigma(W_{io}x_t + b_{io} + W_{ho}h_{t-1} + b_{ho}) \\ "
            r"c_t &= f_t \odot c_{t-1} + i_t \odot g_t & h_t &= o_t \odot \tanh(c_t) \end{aligned}",
    "gru": r"\begin{aligned} r_t &= \sigma(W_{ir}x_t + b_{ir} + W_{hr}h_{t-1} + b_{hr}) & "
           r"z_t &= \sigma(W_{iz}x_t + b_{iz} + W_{hz}h_{t-1} + b_{hz}) \\ "
           r"n_t &= \tanh(W_{in}x_t + b_{in} + r_t \odot (W_{hn}h_{t-1} + b_{hn})) & "
           r"h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1} \end{aligned}",
}
ACTIVATION = {"h": r"\tanh", "g": r"\tanh", "n": r"\tanh"}  # every other gate is σ


def num(value: float) -> str:
    """A number for an equation: 3 decimals, negatives in parentheses after a + sign."""
    return f"{value:.3f}"


def plus(value: float) -> str:
    return f"+ ({value:.3f})" if value < 0 else f"+ {value:.3f}"


def _gate_line(s: Step, gate: str, t: int, j: int) -> str:
    act = ACTIVATION.get(gate, r"\sigma")
    a, b = s.from_input[gate][j], s.from_hidden[gate][j]
    name = f"{gate}_{{{t},{j + 1}}}"
    if gate == "n":  # the reset gate scales the recurrent part
        r = s.gates["r"][j]
        inner = f"{num(a)} + {num(r)} \\cdot ({num(b)})"
    else:
        inner = f"{num(a)} {plus(b)}"
    return f"$${name} = {act}({inner}) = {act}({num(s.pre[gate][j])}) = \\mathbf{{{num(s.gates[gate][j])}}}$$"


def _state_lines(s: Step, kind: str, t: int, j: int) -> list[str]:
    g, h = s.gates, s.h[j]
    if kind == "lstm":
        c = s.c[j]
        return [f"$$c_{{{t},{j + 1}}} = f \\cdot c_{{{t - 1}}} + i \\cdot g = {num(g['f'][j])} \\cdot ({num(s.c_prev[j])})"
                f" + {num(g['i'][j])} \\cdot ({num(g['g'][j])}) = \\mathbf{{{num(c)}}}$$",
                f"$$h_{{{t},{j + 1}}} = o \\cdot \\tanh(c) = {num(g['o'][j])} \\cdot \\tanh({num(c)})"
                f" = \\mathbf{{{num(h)}}}$$"]
    if kind == "gru":
        z = g["z"][j]
        return [f"$$h_{{{t},{j + 1}}} = (1 - z)\\, n + z\\, h_{{{t - 1}}} = (1 - {num(z)}) \\cdot ({num(g['n'][j])})"
                f" + {num(z)} \\cdot ({num(s.h_prev[j])}) = \\mathbf{{{num(h)}}}$$"]
    return []  # the RNN's only gate line already is h_t


TABLE_NAMES = {"h": "h<sub>t</sub>", "i": "i<sub>t</sub> input gate", "f": "f<sub>t</sub> forget gate",
               "g": "g<sub>t</sub> candidate", "o": "o<sub>t</sub> output gate",
               "r": "r<sub>t</sub> reset gate", "z": "z<sub>t</sub> update gate", "n": "n<sub>t</sub> candidate"}
# An HTML table, not a Markdown one: its cells can say "never wrap" (a number broken
# after its minus sign or mid-digit reads as two numbers), and a wide table scrolls.
NOWRAP = "white-space:nowrap;padding:2px 6px;text-align:right"


def _row(name: str, values: np.ndarray) -> str:
    cells = "".join(f'<td style="{NOWRAP}">{f"{v:.2f}".replace("-", "−")}</td>' for v in values)
    return f'<tr><th style="{NOWRAP};text-align:left">{name}</th>{cells}</tr>'  # 2 decimals: 16 units fit


def _table(s: Step, kind: str) -> str:
    size = len(s.h)
    unit = "unit " if size <= 6 else "u"
    head = "".join(f'<th style="{NOWRAP}">{unit}{j + 1}</th>' for j in range(size))
    rows = [f"<tr><th></th>{head}</tr>", _row("h<sub>t−1</sub>", s.h_prev)]
    if kind == "lstm":
        rows.append(_row("c<sub>t−1</sub>", s.c_prev))
    for gate in GATES[kind]:
        rows.append(_row(f"pre-activation of {gate}", s.pre[gate]))
        rows.append(_row(TABLE_NAMES[gate], s.gates[gate]))
    if kind == "lstm":
        rows.append(_row("c<sub>t</sub>", s.c))
    if kind != "rnn":
        rows.append(_row("h<sub>t</sub>", s.h))
    return f'<div style="overflow-x:auto"><table>{"".join(rows)}</table></div>'


def input_text(label: str, vocab: Sequence[str], x: np.ndarray, mode: str) -> str:
    if mode == "numbers":
        return f"$x_t = {num(float(x[0]))}$"
    return (f"$x_t$ = one-hot('{label}'): a 1 in column {int(np.argmax(x)) + 1} of "
            f"[{' '.join(vocab)}]")


def equations_markdown(kind: str, s: Step | None, t: int, steps: int, label: str,
                       vocab: Sequence[str], unit: int, mode: str) -> str:
    """Symbolic equations, then step t with unit ``unit``'s numbers, then all units; the
    input as one-hot over ``vocab`` (mode "chars") or as a number (mode "numbers")."""
    head = f"$${SYMBOLIC[kind]}$$"
    if s is None:
        zero = "$h_0 = 0$" + (" and $c_0 = 0$" if kind == "lstm" else "")
        return f"{head}\n\n**Nothing read yet** ({steps} symbols waiting): {zero}. Press **Step**."
    j = min(max(unit, 1), len(s.h)) - 1
    lines = [_gate_line(s, gate, t, j) for gate in GATES[kind]] + _state_lines(s, kind, t, j)
    return "\n\n".join([
        head,
        f"**Step {t} of {steps}**, reading '{label}'. {input_text(label, vocab, s.x, mode)}. "
        f"Numbers for **unit {j + 1}**; in each bracket the first number comes from the input "
        "($Wx+b$), the second from the previous state ($Wh+b$).",
        *lines,
        "**Every unit at this step**",
        _table(s, kind),
    ])
