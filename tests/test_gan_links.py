"""Lesson links into the GANs lab: its settings → a link (the live app's /gan_link
endpoint) → a fresh session with the same settings and the same first frame; a link naming
a sub-tab; bad values ignored with a note; the two predict-then-reveal questions answered
from the run (two settings with different answers, several seeds); and once in Chromium: a
link with hidden controls opens the lab as set up, and a prediction is answered."""

from __future__ import annotations

import urllib.parse

import gradio as gr
import pytest

from components import gan_tab as tab
from components.links import read_link, tab_parents
from components.predict import Tally
from tests.conftest import browser_prediction_holds
from tests.test_gan_tab import SEEDS, modes_of, play_to_the_end, preset_run

# A teacher's setup: every setting away from its default, the digits sub-tab open.
SETTINGS = dict(
    view="gan-digits", preset="Mode collapse", target="grid", loss="wgan-gp", g_layers=3, g_width=32,
    d_layers=1, d_width=48, activation="tanh", optimizer="sgd", lr_g=0.002, lr_d=0.0005, d_steps=2,
    batch_size=128, latent_dim=4, gp_weight=0.5, max_steps=400, seed=3, speed="30 steps/s",
    points="0, 0\n1, 1\n2, 0", digits_conditional=False, digits_lr=0.002, digits_batch=32,
    digits_steps=500, digits_seed=2, digits_speed="10 steps/s", from_digit="1", from_z=2, to_digit="7",
    to_z=6)
MODES_ANSWER = {"Healthy training": "Yes, (nearly) all: 7 or 8", "Mode collapse": "No, it collapses: 3 or fewer"}


@pytest.fixture(scope="module")
def fresh_lab():
    """The lab built in a new Blocks: its LabSetup and the app's tab ids → lab."""
    with gr.Blocks() as demo:
        with gr.Tabs() as tabs:
            setup = tab.build(demo)
    return setup, tab_parents(tabs)


def restored_settings(setup, updates) -> dict:
    return {name: updates[control]["value"] for name, control in setup.controls.items()
            if control in updates and "value" in updates[control]}


def first_frame(settings: dict) -> tuple[str, str]:
    """What the 2-D sub-tab draws for these settings on its first view: status and field."""
    view = tab.on_reset(settings["points"], *[settings[name] for name in tab.SETTINGS])
    return view.status, view.field.to_json()


def test_round_trip_through_the_api_gives_the_same_settings_and_result(client, fresh_lab):
    setup, parents = fresh_lab
    assert list(setup.controls) == list(SETTINGS)
    query = client.predict(*SETTINGS.values(), ["target", "lr_g"], api_name="/gan_link")
    params = dict(urllib.parse.parse_qsl(query.lstrip("?")))
    assert params["tab"] == tab.TAB_ID and params["hide"] == "target,lr_g"
    link = read_link(params, parents, [setup])  # what a fresh session does on page load
    assert link.lab == tab.TAB_ID and link.note == ""
    assert restored_settings(setup, link.updates) == SETTINGS
    hidden = [name for name, control in setup.controls.items()
              if link.updates[control].get("visible") is False]
    assert hidden == ["target", "lr_g"] and link.updates[setup.restored] == 1
    restored = restored_settings(setup, link.updates)
    status, field = first_frame(restored)
    assert (status, field) == first_frame(SETTINGS)
    assert "step 0 / 400" in status and "seed 3" in status and "wgan-gp loss" in status
    assert "target: grid" in status
    opened = tab.on_open_view(restored["view"], None)  # the restored sub-tab, drawn as a click draws it
    assert opened[0].selected == "gan-digits" and "checkpoint" in opened[1 + tab.ViewDigits._fields.index("status")]
    assert tab.preset_note(restored["preset"]).startswith("**Mode collapse.**")


def test_the_hide_list_offers_every_control_but_the_sub_tab():
    with gr.Blocks() as demo:
        tab.build(demo)
    hide = next(block for block in demo.blocks.values()
                if isinstance(block, gr.CheckboxGroup) and block.label.startswith("Controls to hide"))
    assert [value for _, value in hide.choices] == [name for name in SETTINGS if name != "view"]


def test_a_link_may_name_a_sub_tab_of_the_lab(fresh_lab):
    setup, parents = fresh_lab
    link = read_link({"tab": "gan-digits", "digits_steps": "200", "digits_conditional": "0"}, parents, [setup])
    assert (link.lab, link.sub_tab, link.note) == (tab.TAB_ID, "gan-digits", "")
    assert restored_settings(setup, link.updates) == dict(digits_steps=200, digits_conditional=False)
    untouched = tab.on_open_view(None, None)  # the link's own sub-tab is left to the page
    assert untouched[0].selected is None and untouched[1:] == tuple([gr.skip()] * len(tab.ViewDigits._fields))


def test_bad_values_in_a_link_are_ignored_with_a_note(fresh_lab):
    setup, parents = fresh_lab
    params = {"tab": "gan", "target": "moon", "view": "../../etc/passwd", "g_width": "1000", "lr_g": "nan",
              "speed": "warp 9", "points": "1, 1\n" * 1_000, "digits_conditional": "maybe",
              "path": "/etc/passwd", "hide": "seed,secret"}
    link = read_link(params, parents, [setup])
    assert restored_settings(setup, link.updates) == {"g_width": 256}  # clamped to the slider (and said)
    for said in ("G width was set to 256", "ignored target", "ignored view", "ignored lr_g", "ignored speed",
                 "ignored points", "ignored digits_conditional", "“path”", "cannot hide “secret”"):
        assert said in link.note
    assert link.updates[setup.controls["seed"]] == {"visible": False, "__type__": "update"}
    # a number the link takes but the lab clamps: the lab's own note when it runs
    lr = restored_settings(setup, read_link({"tab": "gan", "lr_d": "5"}, parents, [setup]).updates)["lr_d"]
    status, _ = first_frame({**dict(zip(tab.SETTINGS, tab.on_preset("Healthy training")[:-1])), "lr_d": lr,
                             "points": tab.DEFAULT_POINTS})
    assert "was set to 1" in status


# --- predict, then reveal: each answer comes from the run ---------------------------------------

def test_question_gan_modes_answer_follows_the_preset():
    """Healthy training covers 7 or 8 of the ring's modes, Mode collapse 3 or fewer: for seeds
    0-4 the verdict names that band, with the count the status line shows."""
    for seed in SEEDS:
        for preset, answer in MODES_ANSWER.items():
            lab, last = preset_run(preset, seed)
            verdict, tally = tab.on_reveal_modes(answer, lab, Tally())
            assert verdict.startswith("✅") and (tally.asked, tally.right) == (1, 1), (seed, preset, verdict)
            assert f"cover **{modes_of(last.status)} of the 8 modes**" in verdict
            wrong = next(choice for choice in MODES_ANSWER.values() if choice != answer)
            verdict, tally = tab.on_reveal_modes(wrong, lab, Tally())
            assert verdict.startswith("❌") and answer in verdict and tally.right == 0


def test_question_gan_modes_waits_for_the_end_of_a_ring_run():
    values = list(tab.on_preset("Healthy training")[:-1])
    values[tab.SETTINGS.index("max_steps")] = 20
    lab = tab.on_reset(tab.DEFAULT_POINTS, *values).lab
    assert tab.on_reveal_modes(MODES_ANSWER["Healthy training"], lab, Tally())[0] == (
        "Play to the end of the run (step 20) to see the answer.")
    assert tab.on_reveal_modes(None, lab, Tally())[0] == ""  # no prediction: nothing to say yet
    lab, _ = play_to_the_end(lab, values)
    verdict, tally = tab.on_reveal_modes(None, lab, Tally())
    assert verdict.startswith("The run says") and "At step 20" in verdict and tally.asked == 0
    values[tab.SETTINGS.index("target")] = "two moons"
    moons = tab.on_reset(tab.DEFAULT_POINTS, *values).lab
    moons, _ = play_to_the_end(moons, values)
    assert "choose the target **ring**" in tab.on_reveal_modes("Only some: 4 to 6", moons, Tally())[0]


@pytest.mark.parametrize("seed", range(3))
def test_question_gan_digits_answer_follows_the_steps(seed):
    """1,000 steps at lr 1e-3: the classifier reads half or more of the grid as the digit asked
    for; 200 steps: about chance (under 20 %)."""
    for steps, answer in ((1000, "Most: half or more"), (200, "About chance: under 20 %")):
        settings = (True, 1e-3, 64, steps, seed)
        lab = tab.on_digits_reset(None, *settings).lab
        assert tab.on_reveal_digits(answer, lab, Tally())[0].startswith("Play to the end")
        list(tab.on_digits_play(None, lab, tab.FULL_SPEED, *settings))
        verdict, tally = tab.on_reveal_digits(answer, lab, Tally())
        assert verdict.startswith("✅") and tally.right == 1, (seed, steps, verdict)
        assert f"reads **{100 * lab.run.agreements[-1]:.0f} %**" in verdict


def test_question_gan_digits_asks_for_a_conditional_run_of_your_own():
    shown = tab.on_digits_checkpoint()
    assert "press Reset, then Play" in tab.on_reveal_digits("Most: half or more", shown.lab, Tally())[0]
    lab = tab.on_digits_reset(None, False, 1e-3, 64, 5, 0).lab
    list(tab.on_digits_play(None, lab, tab.FULL_SPEED, False, 1e-3, 64, 5, 0))
    assert "tick **Class-conditional**" in tab.on_reveal_digits("Most: half or more", lab, Tally())[0]


# --- once in a browser -------------------------------------------------------------------------

def test_browser_opens_a_lesson_link_with_hidden_controls_and_a_prediction(page):
    settings = {**dict(zip(tab.SETTINGS, tab.on_preset("Mode collapse")[:-1])), "max_steps": 300, "seed": 3}
    lab = tab.on_reset(tab.DEFAULT_POINTS, *settings.values()).lab
    lab, _ = play_to_the_end(lab, list(settings.values()))
    answer = tab.on_reveal_modes(None, lab, Tally())[0].split("**")[1]  # what this run will say
    query = "?" + urllib.parse.urlencode({
        "tab": "gan", "view": "gan-2d", "preset": "Mode collapse", "lr_g": "0.005", "lr_d": "0.0001",
        "max_steps": "300", "seed": "3", "speed": "300 steps/s", "hide": "preset,target"})
    page.open(query)
    p = page.page
    p.wait_for_function("() => (document.querySelector('#gan-status')?.innerText || '').includes('seed 3')",
                        timeout=60_000)  # the restored run, drawn at step 0
    assert "step 0 / 300" in p.locator("#gan-status").inner_text()
    assert not p.locator("#gan-preset").is_visible() and not p.locator("#gan-target").is_visible()
    assert p.locator("#gan-loss").is_visible() and p.locator("#link-note").is_hidden()
    assert p.locator("#gan-speed").get_by_label("300 steps/s", exact=True).is_checked()
    # predict first, then run
    browser_prediction_holds(page, p.get_by_label(answer), p.locator("#gan-play"), "gan-lesson-link", 60_000)
