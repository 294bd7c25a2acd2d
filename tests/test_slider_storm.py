"""Issue 16: a slider drag must never start an endless request storm.

The storm's cause: Gradio's browser client re-sends a deferred ``always_last`` event to
EVERY listener of that event when one of them finishes. Two such listeners on one slider
(the Positional lab's shared d_model, length and base sliders had two and four) re-trigger
each other for as long as their runs overlap. The first test checks the wiring of the whole
app for that pattern; the second drags every slider of every tab in Chromium to both ends
and checks that the requests stop once the last computation has settled.
"""

from __future__ import annotations

import collections
import json

# Wraps fetch before the app's scripts run: every queue/join (one per event sent) is logged.
COUNT_JOINS = """
window.__joins = [];
const realFetch = window.fetch;
window.fetch = function (url, options) {
  if (String(url).includes('queue/join')) window.__joins.push([Date.now(), options && options.body]);
  return realFetch.apply(this, arguments);
};
"""
QUIET_MS = 6_000  # no request for this long = the computations have settled
SETTLE_LIMIT_MS = 150_000  # a storm never goes quiet; a busy machine settles well before this
WATCH_AFTER_MS = 10_000  # then watch this long: not one more request may come


def test_no_event_has_two_always_last_listeners() -> None:
    import app

    listeners = collections.defaultdict(list)
    for dependency in app.demo.fns.values():
        for target_id, event in dependency.targets:
            listeners[(target_id, event)].append(dependency)
    shared = {(target, event): [getattr(d.fn, "__name__", repr(d.fn)) for d in deps]
              for (target, event), deps in listeners.items()
              if len(deps) > 1 and any(d.trigger_mode == "always_last" for d in deps)}
    assert not shared, f"events with several listeners, one of them always_last: {shared}"


def _joins(page) -> int:
    return page.evaluate("window.__joins.length")


def _settle(page) -> int:
    """Wait until no request has been sent for QUIET_MS; return how many were sent."""
    waited, last_count, quiet = 0, _joins(page), 0
    while quiet < QUIET_MS:
        assert waited < SETTLE_LIMIT_MS, "requests never stopped: a request storm"
        page.wait_for_timeout(1_000)
        waited += 1_000
        count = _joins(page)
        quiet = quiet + 1_000 if count == last_count else 0
        last_count = count
    return last_count


def _drag_to_both_ends(page, slider) -> None:
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    if not box or box["width"] < 10:
        return
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] + 30, y, steps=3)  # past the right end
    page.mouse.move(box["x"] - 30, y, steps=3)  # and past the left end
    page.mouse.move(box["x"] + box["width"] + 30, y, steps=3)  # ending at the right end
    page.mouse.up()


def test_dragging_every_slider_to_both_ends_ends_in_silence(page) -> None:
    import app

    page.page.add_init_script(COUNT_JOINS)
    page.open()
    dragged, seen = [], set()
    for tab in app.TABS:
        page.open_tab(tab.TAB_ID)
        panel = page.page.locator(f"#tab-{tab.TAB_ID}")
        sub_tabs = panel.get_by_role("tab")
        names = [name.strip() for name in sub_tabs.all_inner_texts()] or [None]
        for name in names:
            button = panel.get_by_role("tab", name=name, exact=True).first if name else None
            if button is not None:
                if not button.is_visible():
                    continue
                button.click()
            for slider in panel.locator("input[type=range]").all():
                # A slider shared by several sub-tabs (Positional's d_model) is dragged once.
                if slider.is_visible() and slider.get_attribute("id") not in seen:
                    seen.add(slider.get_attribute("id"))
                    label = slider.get_attribute("aria-label")
                    _drag_to_both_ends(page.page, slider)
                    dragged.append(f"{tab.TAB_ID}: {label}")
    assert len(dragged) >= 10, dragged
    settled = _settle(page.page)
    page.page.wait_for_timeout(WATCH_AFTER_MS)
    after = page.page.evaluate("window.__joins").__getitem__(slice(settled, None))
    assert not after, f"{len(after)} requests after the computations settled: " + json.dumps(after)[:2000]
