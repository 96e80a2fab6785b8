"""Spanish number words: the parser behind the sums metric."""

import pytest

from datamodules.sums.spanish import read_sum


def test_read_sum_accepts_number_words_joined_by_mas_in_any_case_and_accents():
    assert read_sum("cinco más tres más ocho") == (16, True)
    assert read_sum(" Cinco MAS tres\n") == (8, True)
    assert read_sum("dieciséis más uno") == (17, True)
    assert read_sum("nueve") == (9, True)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "no sé",
        "12",
        "5 más 3",
        "cinco, tres, ocho",
        "cinco tres ocho",
        "cinco y tres",
        "cinco más tres.",
        "cinco más",
        "más cinco",
        "cinco más más tres",
        "cinco más banana",
        "cincomás tres",
        "cinco más tres es igual a 8",
    ],
)
def test_anything_but_number_words_joined_by_mas_does_not_parse_and_sums_to_zero(text):
    assert read_sum(text) == (0, False)
