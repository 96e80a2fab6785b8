"""`python -m lit data`: the data of a task or a config, without training.

python -m lit data inspect --config FILE        what training will see (`inspection.py`)
python -m lit data sums|java-instruct ...       a task's generated data as JSONL (`write.py`)
python -m lit data preferences --ckpt CKPT ...  pairs from a checkpoint's wrong answers (`preferences.py`)
"""

from __future__ import annotations


def data_main(args: list[str]) -> None:
    if args and args[0] == "inspect":  # its other arguments are the fit command's: parsed by LightningCLI
        from lit.data.inspection import inspect_main

        inspect_main(args[1:])
    elif args and args[0] == "preferences":
        from lit.data.preferences import preferences_main

        preferences_main(args[1:])
    else:
        from lit.data.write import write_main

        write_main(args)
