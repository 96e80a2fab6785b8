"""`python -m lit data inspect --config FILE [--data.init_args.X ...]`: what training will see, before
it runs.

Prints the first examples of a split as the model gets them (the chat template's rendering, special
tokens included) with the trained tokens marked: in colour with `rich` on a terminal, else between
⟦ and ⟧; then each split's token lengths, how many examples `max_length` cuts, and the pre-flight's
verdict. Only the config's data module and its tokenizer are built: no model weights load.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import warnings

from modules.errors import UserInputError
from modules.loss import IGNORE_INDEX

OPEN, CLOSE = "⟦", "⟧"  # around trained text in plain output


def runs(item: dict, tokenizer, per_token: bool = False) -> list[tuple[bool, str]]:
    """The example's text in runs of (trained?, text); `per_token`: "|" between the tokens of a run."""
    pieces: list[tuple[bool, list[int]]] = []
    for token, label in zip(item["input_ids"], item["labels"]):
        trained = label != IGNORE_INDEX
        if pieces and pieces[-1][0] == trained:
            pieces[-1][1].append(token)
        else:
            pieces.append((trained, [token]))
    if per_token:
        return [(trained, "|".join(tokenizer.decode([t]) for t in ids) + "|") for trained, ids in pieces]
    return [(trained, tokenizer.decode(ids)) for trained, ids in pieces]


def plain(parts: list[tuple[bool, str]]) -> str:
    return "".join(f"{OPEN}{text}{CLOSE}" if trained else text for trained, text in parts)


def header(item: dict, split: str, index: int, total: int, max_length: int) -> str:
    trained = sum(label != IGNORE_INDEX for label in item["labels"])
    cut = f", cut by max_length {max_length} from {item['length']}" if item["truncated"] else ""
    return (
        f"{split} example {index + 1} of {total} ({item['where']}): {len(item['input_ids'])} tokens, "
        f"{trained} trained{cut}"
    )


def length_stats(items: list[dict], max_length: int) -> dict:
    lengths = sorted(i["length"] for i in items)
    trained = [sum(label != IGNORE_INDEX for label in i["labels"]) for i in items]
    return {
        "examples": len(items),
        "min": lengths[0],
        "median": statistics.median(lengths),
        "mean": statistics.fmean(lengths),
        "p95": lengths[min(len(lengths) - 1, int(0.95 * len(lengths)))],
        "max": lengths[-1],
        "trained_mean": statistics.fmean(trained),
        "cut": sum(i["truncated"] for i in items),
    }


def stats_line(split: str, s: dict, max_length: int) -> str:
    return (
        f"  {split}: {s['examples']} examples, tokens min {s['min']}, median {s['median']:g}, "
        f"mean {s['mean']:.1f}, p95 {s['p95']}, max {s['max']}; {s['trained_mean']:.1f} trained on "
        f"average; {s['cut']} cut by max_length {max_length}"
    )


def _use_rich(force_plain: bool) -> bool:
    if force_plain or not sys.stdout.isatty():
        return False
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


def quietly(function, *args, **kwargs):
    """Call `function` without Lightning's start-up lines (seed, devices, tips): not about the data."""
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
        for logger in loggers:
            logger.setLevel(logging.WARNING)
        try:
            return function(*args, **kwargs)
        finally:
            for logger, level in zip(loggers, levels):
                logger.setLevel(level)


def inspect_main(args: list[str]) -> dict:
    """Run `lit data inspect`; returns what it printed as figures (for tests)."""
    parser = argparse.ArgumentParser(
        prog="python -m lit data inspect",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "Other arguments (--config, --data.init_args.X, --model.init_args.model ...) are the fit "
            "command's."
        ),
    )
    parser.add_argument("-n", "--num-examples", type=int, default=3, help="examples shown (default 3)")
    parser.add_argument("--split", default="train", help="the split shown: train, val, ... (default train)")
    parser.add_argument(
        "--plain", action="store_true", help=f"mark trained text with {OPEN} {CLOSE}, no colours"
    )
    parser.add_argument("--tokens", action="store_true", help="show token boundaries (| after each token)")
    options, rest = parser.parse_known_args(args)
    if not rest:
        parser.error("give the config: --config FILE (and any --data.init_args.X overrides)")

    from datamodules.preflight import check_all
    from datamodules.prompt_completion import PromptCompletionDataModule
    from datamodules.records import DataError
    from lit.cli import cli_main

    cli = quietly(cli_main, [*rest, "--trainer.logger", "false"], run=False)  # no weights: they load in fit
    data = cli.datamodule
    if not isinstance(data, PromptCompletionDataModule):
        raise UserInputError(
            f"lit data inspect shows prompt/completion and chat data; {type(data).__name__} is neither"
        )
    fit_splits = ["train", *data.task.eval_sets["validate"]]
    items = data.prepare_split(options.split)
    tokenizer, max_length = data.tokenizer, data.max_length
    template = "its chat template" if data.uses_chat_template else "no chat template"
    print(
        f"lit data inspect: {type(data).__name__}, tokenizer {data.tokenizer_source} ({template}), "
        f"max_length {max_length}"
    )
    colour = _use_rich(options.plain)
    if colour:
        from rich.console import Console
        from rich.text import Text

        console = Console(highlight=False)
        console.print(Text.assemble("legend: ", ("context (masked)", "dim"), "  ", ("trained", "bold green")))
    else:
        print(f"legend: trained tokens {OPEN}between these{CLOSE}, the rest is context (masked)")
    for index, item in enumerate(items[: options.num_examples]):
        print(header(item, options.split, index, len(items), max_length))
        parts = runs(item, tokenizer, options.tokens)
        if colour:
            text = Text("  ")
            for trained, piece in parts:
                text.append(piece.replace("\n", "\n  "), style="bold green" if trained else "dim")
            console.print(text)
        else:
            print("  " + plain(parts).replace("\n", "\n  "))
    figures = {}
    print("token lengths (the whole example, before max_length cuts it):")
    for split in dict.fromkeys([*fit_splits, options.split]):
        figures[split] = length_stats(data.prepare_split(split), max_length)
        print(stats_line(split, figures[split], max_length))
    try:
        check_all(data, fit_splits)
        verdict = "passed"
    except DataError as error:
        verdict = f"FAILED: {error}"
    print(f"pre-flight ({', '.join(fit_splits)}): {verdict}")
    return {"stats": figures, "preflight": verdict, "model_loaded": cli.model.model is not None}
