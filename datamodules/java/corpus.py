"""Plain causal-LM training on Java code, packed into fixed blocks (the reference experiment's first GPT-2
stage).

Sources: `.java` files, directories of them, zip archives (the JDK's own `lib/src.zip`, named
`jdk`, is the offline default), JSONL with a `text` field, or a Hugging Face `datasets` name.
Newlines and indentation are kept; exact duplicates are dropped; held-out data is split by file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import DataLoader

from datamodules.distributed import eval_sampler
from datamodules.records import DataError, iter_records
from datamodules.resumable import ResumableLoader
from modules.model_source import cache_dir
from modules.task import Task
from modules.tokenizer import load_tokenizer


def jdk_sources() -> Path:
    """The JDK's own Java sources: `lib/src.zip` under $JAVA_HOME, beside `javac`, or in /usr/lib/jvm.

    Some distributions ship src.zip as a link to a separate package (Debian's openjdk-N-source);
    a link to nothing is skipped.
    """
    homes = [os.environ.get("JAVA_HOME")]
    javac = shutil.which("javac")
    if javac:
        homes.append(str(Path(javac).resolve().parents[1]))
    homes += sorted(str(p) for p in Path("/usr/lib/jvm").glob("*"))
    for home in filter(None, homes):
        if (Path(home) / "lib" / "src.zip").is_file():
            return Path(home) / "lib" / "src.zip"
    raise DataError(
        "source 'jdk': no lib/src.zip under $JAVA_HOME, beside javac or in /usr/lib/jvm; "
        "install a JDK with its sources (e.g. Debian's openjdk-17-source) or name another source"
    )


def iter_java_files(source: str, include: str | None = None) -> Iterator[tuple[str, str]]:
    """Yield (name, text) for each Java file or snippet in `source`.

    Args:
        source: a .java file, a directory, a .zip archive, "jdk", a JSONL file with `text`, or a
            `datasets` name ("org/name:split") whose records have `text`.
        include: keep only files whose path inside the source contains this string.
    """
    path = jdk_sources() if source == "jdk" else Path(source).expanduser()
    if source != "jdk" and not path.exists() and path.suffix in (".java", ".zip", ".jsonl", ".json"):
        raise DataError(f"Java source {source!r} does not exist")
    if path.is_dir():
        files = sorted(path.rglob("*.java"))
        if not files:
            raise DataError(f"Java source {source!r}: the directory holds no .java files")
        for file in files:
            name = str(file.relative_to(path))
            if include is None or include in name:
                yield name, file.read_text(encoding="utf-8", errors="replace")
    elif path.suffix == ".zip" or source == "jdk":
        if not zipfile.is_zipfile(path):
            raise DataError(f"Java source {source!r} is not a zip archive")
        with zipfile.ZipFile(path) as archive:
            names = sorted(n for n in archive.namelist() if n.endswith(".java"))
            if not names:
                raise DataError(f"Java source {source!r}: the archive holds no .java files")
            for name in names:
                if include is None or include in name:
                    yield name, archive.read(name).decode("utf-8", errors="replace")
    elif path.suffix == ".java":
        yield path.name, path.read_text(encoding="utf-8", errors="replace")
    else:
        for record, where in iter_records(source):
            if "text" not in record:
                raise DataError(f"{where}: record has no 'text' field (keys: {sorted(record)})")
            yield where, str(record["text"])


def held_out_by_name(name: str, fraction: float) -> bool:
    """A stable per-file split: the same file is always on the same side."""
    digest = int(hashlib.sha1(name.encode("utf-8")).hexdigest()[:8], 16)
    return digest / 0xFFFFFFFF < fraction


def pack(token_lists: list[list[int]], eos: int, block_size: int) -> torch.Tensor:
    """Concatenate documents separated by EOS and cut into full blocks (the remainder is dropped)."""
    stream = [t for tokens in token_lists for t in (*tokens, eos)]
    n_blocks = len(stream) // block_size
    return torch.tensor(stream[: n_blocks * block_size], dtype=torch.long).view(n_blocks, block_size)


class JavaCorpusDataModule(L.LightningDataModule):
    """Java code for plain next-token training; logs `val/loss` and `val/ppl`.

    Args:
        tokenizer: the model source whose tokenizer is used; linked from `model.model`.
        sources: where the Java comes from (see `iter_java_files`); "jdk" is the JDK's src.zip.
        include: keep only files whose path contains this (e.g. "java.base/java/util/").
        max_files: keep at most this many files after de-duplication (None: all).
        val_fraction: share of files held out for validation (split by file, never inside one).
        block_size: tokens per training block (the reference experiment's sequence length is 128).
        batch_size: blocks per batch.
        max_val_blocks: cap on validation blocks, to bound evaluation time (None: all).
        num_workers: DataLoader workers.
        trust_remote_code: allow tokenizer code from the hub; linked from `model.trust_remote_code`.
    """

    # Scored by its loss alone, on `val` and `test`: the same held-out files.
    task = Task()

    def __init__(
        self,
        tokenizer: str = "smollm2-135m-instruct",
        sources: list[str] = ["jdk"],  # noqa: B006 (jsonargparse shows list defaults)
        include: str | None = None,
        max_files: int | None = None,
        val_fraction: float = 0.05,
        block_size: int = 128,
        batch_size: int = 8,
        max_val_blocks: int | None = None,
        num_workers: int = 0,
        trust_remote_code: bool = False,
    ):
        super().__init__()
        self.save_hyperparameters()  # recorded in checkpoints: `lit export` rebuilds the data from them
        self.tokenizer_source = tokenizer
        self.sources = list(sources)
        self.include = include
        self.max_files = max_files
        self.val_fraction = val_fraction
        self.block_size = block_size
        self.batch_size = batch_size
        self.max_val_blocks = max_val_blocks
        self.num_workers = num_workers
        self.trust_remote_code = trust_remote_code
        self.tokenizer = None
        self.blocks: dict[str, torch.Tensor] = {}

    def read_files(self) -> dict[str, list[str]]:
        """De-duplicated file texts, split by file into train and val."""
        seen, split = set(), {"train": [], "val": []}
        files = (
            (name, text) for source in self.sources for name, text in iter_java_files(source, self.include)
        )
        for name, text in files:
            digest = hashlib.sha1(text.encode("utf-8")).digest()
            if not text.strip() or digest in seen:
                continue
            seen.add(digest)
            split["val" if held_out_by_name(name, self.val_fraction) else "train"].append(text)
            if self.max_files and len(seen) >= self.max_files:
                break
        for name, texts in split.items():
            if not texts:
                raise DataError(
                    f"The Java {name} set is empty (sources: {self.sources}, include: {self.include!r})"
                )
        return split

    def setup(self, stage: str) -> None:
        if self.blocks:
            return
        if self.tokenizer is None:
            self.tokenizer = load_tokenizer(self.tokenizer_source, trust_remote_code=self.trust_remote_code)
        for name, texts in self.read_files().items():
            blocks = self.tokenized_blocks(texts)
            if name == "val" and self.max_val_blocks:
                blocks = blocks[: self.max_val_blocks]
            if len(blocks) == 0:
                raise DataError(f"The Java {name} set has fewer than block_size={self.block_size} tokens")
            self.blocks[name] = blocks
        self.blocks["test"] = self.blocks["val"]
        first = self.tokenizer.decode(self.blocks["train"][0])
        rank_zero_info(
            f"lit: pre-flight: {len(self.blocks['train'])} train and {len(self.blocks['val'])} val blocks of "
            f"{self.block_size} tokens, every token trained; the first train block:\n  {first[:600]!r}"
        )

    def tokenized_blocks(self, texts: list[str]) -> torch.Tensor:
        """Tokenize and pack once: later runs with the same tokenizer, texts and block size load the
        blocks from `$LIT_CACHE/tokens` (the JDK's java.util took ~5-10 s to tokenize on 2 cores)."""
        backend = getattr(self.tokenizer, "backend_tokenizer", None)  # a fast tokenizer's full definition
        path = None
        if backend is not None:
            key = hashlib.sha256(backend.to_str().encode("utf-8"))
            key.update(f"{self.tokenizer.eos_token_id}:{self.block_size}".encode())
            for text in texts:
                key.update(hashlib.sha1(text.encode("utf-8")).digest())
            path = cache_dir() / "tokens" / f"{key.hexdigest()[:32]}.pt"
            if path.is_file():
                return torch.load(path, weights_only=True)
        ids = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        blocks = pack(ids, self.tokenizer.eos_token_id, self.block_size)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.tmp")  # concurrent runs never read half a file
            torch.save(blocks, partial)
            partial.replace(path)
        return blocks

    @staticmethod
    def collate(blocks: list[torch.Tensor]) -> dict:
        input_ids = torch.stack(blocks)
        # Unpadded, so no pad on the left: `pads_right` lets the model leave out the all-ones mask.
        return {
            "input_ids": input_ids,
            "attention_mask": torch.ones_like(input_ids),
            "labels": input_ids.clone(),
            "pads_right": True,
        }

    def _loader(self, name: str, shuffle: bool) -> DataLoader:
        if name == "train":  # a seeded order whose position goes into checkpoints: exact mid-epoch resume
            return ResumableLoader(
                list(self.blocks[name]),
                batch_size=self.batch_size,
                shuffle=shuffle,
                collate_fn=self.collate,
                num_workers=self.num_workers,
            )
        return DataLoader(
            list(self.blocks[name]),
            batch_size=self.batch_size,
            collate_fn=self.collate,
            sampler=eval_sampler(self.blocks[name]),
            num_workers=self.num_workers,
            generator=torch.Generator().manual_seed(0),  # not the global RNG
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
