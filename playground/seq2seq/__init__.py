"""Sequence to sequence: an encoder reads, a decoder writes.

Read ``model.py``: a GRU encoder-decoder (Sutskever et al. 2014; Cho et al. 2014) with a
fixed-size context vector, and the same with Bahdanau attention (Bahdanau et al. 2015),
greedy and beam search. ``data.py`` makes the toy tasks (reverse, sort, dates) and grades
answers.
"""
