"""Which events wait for which: every event listener joins one of four named groups.

``GRADIO_DEFAULT_CONCURRENCY_LIMIT`` limits each event listener on its own, not the app,
so without groups ten listeners could each run four heavy jobs at once on 2 cores. Events
with the same ``concurrency_id`` share one limit instead (Gradio takes the lowest limit
set in the group, so every member sets the same one). Pass a group as keyword arguments:
``button.click(fn, inputs, outputs, **queues.CHEAP)``.
"""

from __future__ import annotations

# Quick work (tokenize, step a cell, redraw a plot, read a model already loaded): it must
# never wait behind training, so it has a group of its own with room for a classroom.
CHEAP = {"concurrency_id": "cheap", "concurrency_limit": 8}
# A forward pass of a pretrained model or a pipeline (tens to hundreds of ms of CPU each).
MODEL = {"concurrency_id": "model", "concurrency_limit": 2}
# Token streams of a pretrained model (the LLM lab's Generate): each holds a worker for the
# whole generation but needs only one decoding step at a time from the one shared model (its
# own key/value cache, a few MB), so a classroom's five students all keep streaming; they share
# the 2 cores, each slower, none waiting for another to finish.
STREAM = {"concurrency_id": "stream", "concurrency_limit": 5}
# Training streams (memory race, seq2seq, fine-tuning, GANs): they hold a worker for
# seconds to minutes; on 2 cores two at a time, the rest wait in line and see their place.
TRAINING = {"concurrency_id": "training", "concurrency_limit": 2}
