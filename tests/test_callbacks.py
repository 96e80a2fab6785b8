"""The end-of-run summary line."""

from lit.cli import cli_main


def test_validate_prints_one_summary_line(tiny_fit_args, tmp_path, caplog):
    cli_main(["validate"] + tiny_fit_args[1:])
    lines = [r.message for r in caplog.records if r.message.startswith("lit: validate finished")]
    assert len(lines) == 1 and "val/mae" in lines[0] and "tokens/s" in lines[0]
