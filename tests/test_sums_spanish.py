"""Spanish number words: the parser behind the sums metric."""

from datamodules.sums.spanish import read_sum


def test_read_sum_accepts_accents_and_case_and_counts_junk_as_zero():
    assert read_sum("cinco más tres más ocho") == (16, True)
    assert read_sum(" Cinco mas tres.") == (8, True)
    assert read_sum("dieciséis más uno") == (17, True)
    assert read_sum("cinco más banana") == (5, False)
    assert read_sum("no sé") == (0, False)
    assert read_sum("") == (0, False)
