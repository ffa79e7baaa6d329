"""Training: the schedule, the state, the Brax and Atari trainers and the host loop.

Modules, lowest first: ``schedule`` (steps, checkpoints, blocks, keys), ``state``
(``TrainState``, ``Trainer``, restoring a checkpoint), ``validate``, ``brax`` and
``atari`` (the trainers), ``trainers`` (one by config), ``loop`` (``train()``: the
run directory, resume and the block loop).
"""
