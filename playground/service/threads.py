"""One torch thread for the tiny models of the labs.

Waking a second thread costs more than it saves on small tensors, and on a shared 2-core
server the other core belongs to other students (measured under load: a GAN snapshot took
100-360 ms on 2 threads, 15-55 ms on 1). torch's thread count is per calling thread, so
other handlers are unaffected; app.py also sets OMP_NUM_THREADS=1 for the whole process.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the block on one torch thread, then restore the previous count. Don't hold it
    across a ``yield``: a generator's next step may run on another worker thread."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
