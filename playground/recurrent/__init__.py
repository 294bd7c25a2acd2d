"""Recurrent networks: a hidden state carried through time.

Read ``cells.py`` first: the RNN (Elman 1990), LSTM (Hochreiter & Schmidhuber 1997) and
GRU (Cho et al. 2014) cells written out gate by gate, checked against ``torch.nn``'s
cells, and back-propagation through time with the gradient paths that vanish (Bengio et
al. 1994; Pascanu et al. 2013). ``memory_task.py`` is the race that shows why gates
matter: remember the first symbol of a long sequence.
"""
