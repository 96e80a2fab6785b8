"""The command line: LightningCLI for fit/validate/test/predict, plus lit's own commands."""

from __future__ import annotations

import importlib
import pickle
import sys
from pathlib import Path

import torch
from jsonargparse import lazy_instance
from lightning.pytorch.cli import LightningCLI, SaveConfigCallback
from lightning.pytorch.utilities import rank_zero_info

from lit.callbacks import TokenThroughput
from lit.fault_tolerance import find_last_checkpoint, unreadable_checkpoint
from lit.loggers import WandbLogger
from lit.trainer import Trainer


class SaveConfigToRun(SaveConfigCallback):
    """Saves the resolved config beside the run (`config.yaml`) and logs it as the run's hyperparameters."""

    def save_config(self, trainer, pl_module, stage: str) -> None:
        import yaml

        from modules.generation_log import run_directory

        text = self.parser.dump(self.config, skip_none=False)
        for logger in trainer.loggers:
            logger.log_hyperparams({"config": yaml.safe_load(text)})
            folder = run_directory(logger)
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "config.yaml").write_text(text, encoding="utf-8")


# Model arguments that only say how to generate: a checkpoint's hyperparameters never override them.
DECODING_SETTINGS = ("num_beams", "max_new_tokens", "log_generations", "eval_memory_gib")
# Model settings lit no longer has: a checkpoint that recorded one still loads (the setting is dropped).
RETIRED_SETTINGS = ("merge_lora_for_generation",)


class LitCLI(LightningCLI):
    def add_arguments_to_parser(self, parser) -> None:
        # The model names its source once; the data module renders with that model's tokenizer.
        parser.link_arguments("model.init_args.model", "data.init_args.tokenizer")
        # Model code from the hub runs only where a config says so, for the tokenizer as for the model.
        parser.link_arguments("model.init_args.trust_remote_code", "data.init_args.trust_remote_code")
        parser.add_argument(
            "--validate_before_fit",
            type=bool,
            default=False,
            help="Score the untrained model on the validation sets first (the 'before' of before/after).",
        )
        parser.add_lightning_class_args(TokenThroughput, "throughput")  # always on
        # W&B by default, written once here instead of in every config: into `default_root_dir`
        # (`lit.trainer.Trainer`), offline without credentials; `--trainer.logger false` turns it off.
        parser.set_defaults({"trainer.logger": lazy_instance(WandbLogger)})

    def _parse_ckpt_path(self) -> None:
        # LightningCLI reads the checkpoint's hyperparameters first; a bad file is one message there too.
        # They override the command's config, but how to decode is this command's choice, not the
        # checkpoint's: `test --ckpt_path CKPT --model.init_args.num_beams 1` decodes greedily.
        command = self.config.get(self.config.get("subcommand") or "", None)
        model = (command or {}).get("model") or {}
        args = model.get("init_args") or {}
        decoding = {key: args[key] for key in DECODING_SETTINGS if key in args}
        try:
            self._parse_checkpoint_hyperparameters()
            for key, value in decoding.items():
                self.config[self.config.subcommand]["model"]["init_args"][key] = value
        except (OSError, EOFError, RuntimeError, pickle.UnpicklingError) as error:
            path = self.config[self.config.subcommand].get("ckpt_path")
            friendly = unreadable_checkpoint(path, error)
            if friendly is None:
                raise
            raise friendly from None

    def _parse_checkpoint_hyperparameters(self) -> None:
        """LightningCLI's `_parse_ckpt_path`, less the settings lit retired (an older checkpoint loads)."""
        if not self.config.get("subcommand"):
            return
        path = self.config[self.config.subcommand].get("ckpt_path")
        if not path or not Path(path).is_file():
            return
        hparams = torch.load(path, weights_only=True, map_location="cpu").get("hyper_parameters", {})
        hparams.pop("_instantiator", None)
        for key in RETIRED_SETTINGS:
            if hparams.pop(key, None) is not None:
                rank_zero_info(f"lit: {path} records `{key}`, a setting lit no longer has: ignored")
        if not hparams:
            return
        if "_class_path" in hparams:
            hparams = {"class_path": hparams.pop("_class_path"), "dict_kwargs": hparams}
        try:
            self.config = self.parser.parse_object({self.config.subcommand: {"model": hparams}}, self.config)
        except SystemExit:
            sys.stderr.write("Parsing of ckpt_path hyperparameters failed!\n")
            raise

    def before_fit(self) -> None:
        config = self.config_init.get(self.subcommand, self.config_init)
        if config.get("ckpt_path") == "last":
            found = find_last_checkpoint(self.trainer)
            if found is not None:
                config["ckpt_path"] = str(found)
        if self.config.get(self.subcommand, self.config).get("validate_before_fit"):
            if config.get("ckpt_path") not in (None, "last"):  # a resumed run's "before" was scored already
                rank_zero_info("lit: resuming: no validate_before_fit (the first run scored the base model)")
            else:
                self.trainer.validate(self.model, datamodule=self.datamodule)


# lit's own commands beside LightningCLI's fit/validate/test/predict: name -> "module:function(argv)".
COMMANDS = {
    "data": "lit.data:data_main",
    "report": "lit.report:report_main",
    "export": "lit.export:export_main",
}


def cli_main(args: list[str] | None = None, run: bool = True) -> LitCLI | None:
    """Entry point of `python -m lit`; tests call it with an argument list (`run=False`: build the
    model, data and Trainer from the arguments, without a subcommand, and stop there)."""
    argv = sys.argv[1:] if args is None else list(args)
    if argv and argv[0] in COMMANDS:
        module, function = COMMANDS[argv[0]].split(":")
        getattr(importlib.import_module(module), function)(argv[1:])
        return None
    import lightning as L

    from modules.causal_lm import CausalLM

    return LitCLI(
        CausalLM,
        L.LightningDataModule,
        trainer_class=Trainer,
        subclass_mode_model=True,
        subclass_mode_data=True,
        args=args,  # None: LightningCLI reads sys.argv itself
        run=run,
        save_config_callback=SaveConfigToRun,
        save_config_kwargs={"overwrite": True},
    )


def main() -> None:
    """`python -m lit` and the `lit` script: errors the user can fix print as one message."""
    from modules.errors import UserInputError

    try:
        cli_main()
    except UserInputError as error:
        sys.exit(f"lit: error: {error}")
