"""modules/evaluation.py: which rows of an evaluation batch are the same prompt, as the model reads it."""

import pytest
import torch

from modules.evaluation import distinct_rows, prompt_keys


def test_rows_are_the_same_prompt_only_when_the_model_reads_the_same_tokens():
    # Left-padded prompts: rows 0 and 2 are the same tokens under different padding; row 1 shows the same last
    # question as row 0 (`prompts`) after another conversation, so it is another prompt.
    batch = {
        "prompts": ["12 es igual a", "12 es igual a", "12 es igual a"],
        "prompt_ids": torch.tensor([[0, 5, 6, 7], [4, 9, 6, 7], [0, 5, 6, 7]]),
        "prompt_mask": torch.tensor([[0, 1, 1, 1], [1, 1, 1, 1], [0, 1, 1, 1]]),
    }
    keys = prompt_keys(batch)
    assert keys == [(5, 6, 7), (4, 9, 6, 7), (5, 6, 7)]
    rows, back = distinct_rows(keys)
    assert rows == [0, 1] and back == [0, 1, 0]  # generate rows 0 and 1; row 2 gets row 0's generation
    assert distinct_rows([(1,), (2,), (3,)]) == ([0, 1, 2], [0, 1, 2])


def test_score_every_skips_a_set_between_its_turns_and_never_at_the_last_validation():
    from modules.evaluation import Evaluation

    evaluation = Evaluation(score_every={"val_seen": 3})
    skipped = []
    for validation in range(1, 8):
        evaluation.start(["val", "val_seen"], fitting=True, last=validation == 7)
        skipped.append(sorted(evaluation.skipped))
    assert skipped == [["val_seen"], ["val_seen"], [], ["val_seen"], ["val_seen"], [], []]
    evaluation.start(["val", "val_seen"])  # `validate` / `test`: every set
    assert not evaluation.skipped
    with pytest.raises(ValueError, match="must be >= 1"):
        Evaluation(score_every={"val": 0})
