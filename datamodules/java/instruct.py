"""The Java instruction task: `// A function that prints "Hello, World!"` -> the method.

Instructions come from the families (`families.py`), their words from the training or held-out vocabulary
(`vocabulary.py`): English and Spanish lists (the reference experiment's way to diversify), and held-out sets
use only words never trained on, in any spelling.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from functools import partial

from datamodules.java.families import FAMILIES, Language, make_example
from datamodules.java.messages import render_message
from datamodules.java.metric import JavaMetrics, java_score
from datamodules.java.vocabulary import HELD_OUT_ACCENTED, TRAIN_ACCENTED, word_vocabulary
from datamodules.java.words import is_respelled, load_word_list
from datamodules.preflight import tokenizer_adds_bos
from datamodules.prompt_completion import PromptCompletionDataModule
from modules.task import Task


def generate_java_instructions(
    num_examples: int,
    seed: int,
    held_out: bool = False,
    families: list[str] | None = None,
    extra_words: int = 0,
    word_lists: Sequence[str] = (),
    near_words: int = 0,
    respelled: Callable[[str], bool] | None = None,
    respelled_fraction: float = 0.0,
    message_fraction: float = 0.0,
    phrasing: str = "train",
) -> list[dict]:
    """Unique instruction -> method examples.

    Args:
        num_examples: how many distinct examples.
        seed: random seed.
        held_out: draw words only from the held-out lists (never in a training instruction).
        families: which families to use; None is all.
        extra_words, word_lists, near_words: what the training vocabulary adds (`word_vocabulary`).
        respelled: which words the tokenizer splits differently once capitalised (`is_respelled`).
        respelled_fraction: the share of word draws taken from the vocabulary's `respelled` words;
            0 draws uniformly from the vocabulary.
        message_fraction: the share of examples that print a message as people write it
            (`messages.render_message`: accented words, punctuation, digits, mixed case), its words
            half from the accented list, half from the vocabulary, held-out ones for `held_out`.
        phrasing: which wordings instructions are drawn from (`phrasings.py`): "train", or the held-out
            "val" or "test" wordings that no training instruction uses.
    """
    vocabulary = word_vocabulary(held_out, extra_words, word_lists, near_words)
    names = families or list(FAMILIES)
    rng = random.Random(seed)
    focus = sorted({w for w in vocabulary if respelled(w)}) if respelled and respelled_fraction > 0 else []
    most = max(count for count, _ in FAMILIES.values())  # words one instruction draws, all distinct
    if respelled_fraction > 0 and len(focus) < most:
        raise ValueError(
            f"respelled_fraction > 0 needs at least {most} respelled words in the vocabulary, "
            f"found {len(focus)}"
        )

    def draw(count: int) -> list[str]:
        if not focus:
            return rng.sample(vocabulary, count)
        words: list[str] = []
        while len(words) < count:  # distinct words: distinct parameter names
            word = rng.choice(focus if rng.random() < respelled_fraction else vocabulary)
            if word not in words:
                words.append(word)
        return words

    accented = HELD_OUT_ACCENTED if held_out else TRAIN_ACCENTED

    def message(lang: Language) -> dict:
        words = [rng.choice(accented if rng.random() < 0.5 else vocabulary) for _ in range(2)]
        text, code = render_message(words, lang, rng, phrasing)
        return {"prompt": f"// {text}", "completion": code}

    seen, examples = set(), []
    for _ in range(num_examples * 50):
        if len(examples) == num_examples:
            break
        if message_fraction > 0 and rng.random() < message_fraction:
            example = message(rng.choice(["en", "es"]))
        else:
            family = rng.choice(names)
            words = draw(FAMILIES[family][0])
            example = make_example(family, words, rng.choice(["en", "es"]), rng, phrasing)
        if example["prompt"] not in seen:
            seen.add(example["prompt"])
            examples.append(example)
    if len(examples) < num_examples:
        raise ValueError(f"only {len(examples)} distinct examples exist for these words and families")
    return examples


class JavaInstructDataModule(PromptCompletionDataModule):
    """Instruction -> Java method, scored by exact match (whitespace-normalised) and javac.

    Validation holds `val` with held-out words only (what the reference experiment failed on), `val_seen`
    with training words in new combinations, and `val_phrasing` with held-out words asked in wordings no
    training instruction uses (`phrasings.py`); `test` and `test_phrasing` likewise, with other wordings.
    Every set is also scored by running the generated methods (`runs_right`, `JavaMetrics`).

    Args:
        num_examples: generated training examples (the reference experiment's improved model used 20,000).
        num_val_examples: generated examples in each validation set.
        num_test_examples: generated test examples (held-out words).
        seed: training data seed; the held-out sets use other seeds.
        compile_check: also measure the javac compile rate of generated methods.
        extra_words: made-up words added to the training vocabulary (not to `val_seen`): copying
            thousands of different words teaches the rule that carries to unseen words.
        word_lists: more real words for the training vocabulary: bundled "english" (2,140 words)
            and "spanish" (926), or text files with one word per line. Held-out words are dropped.
        near_words: made-up words one edit away from the real training words ("lemon" -> "lemin"),
            added to the training vocabulary: they teach copying a name letter for letter where the
            pretrained model would "correct" it to a word it knows.
        respelled_fraction: the share of training word draws taken from words the tokenizer splits
            differently once capitalised (`is_respelled`: "cobalt" -> "Cobalt"), the names greedy
            decoding got wrong most; 0 draws uniformly.
        message_fraction: the share of training examples that print a message as people write it
            (accents, ñ, punctuation, digits, mixed case: `messages.py`).
        num_message_examples: the size of `val_messages` and `test_messages`, such print
            instructions with held-out words only, scored by running the method (`prints_right`);
            0: no such sets.
        num_phrasing_examples: the size of `val_phrasing` and `test_phrasing`: held-out words in
            held-out wordings (each set its own), every family and print messages at the training share
            (`message_fraction`); 0: no such sets.
        **kwargs: see `PromptCompletionDataModule`.
    """

    def __init__(
        self,
        num_examples: int = 20_000,
        num_val_examples: int = 100,
        num_test_examples: int = 200,
        seed: int = 0,
        compile_check: bool = True,
        extra_words: int = 0,
        word_lists: list[str] | None = None,
        near_words: int = 0,
        respelled_fraction: float = 0.0,
        message_fraction: float = 0.0,
        num_message_examples: int = 0,
        num_phrasing_examples: int = 100,
        **kwargs,
    ):
        if (
            kwargs.get("chat_template") is None
        ):  # the reference experiment's format: the comment, a newline, the method
            kwargs["chat_template"] = False
        super().__init__(**kwargs)
        self.sizes = {
            "train": num_examples,
            "val": num_val_examples,
            "val_seen": num_val_examples,
            "test": num_test_examples,
            "val_messages": num_message_examples,
            "test_messages": num_message_examples,
            "val_phrasing": num_phrasing_examples,
            "test_phrasing": num_phrasing_examples,
        }
        messages, phrasings = num_message_examples > 0, num_phrasing_examples > 0
        eval_sets = {
            "validate": ["val", "val_seen"] + ["val_messages"] * messages + ["val_phrasing"] * phrasings,
            "test": ["test"] + ["test_messages"] * messages + ["test_phrasing"] * phrasings,
        }
        self.own_task = Task(
            eval_sets, metric=partial(JavaMetrics, compile_check=compile_check), score=java_score
        )
        if not 0.0 <= message_fraction <= 1.0:
            raise ValueError(f"message_fraction must be in [0, 1], got {message_fraction}")
        self.message_fraction = message_fraction
        self.seed = seed
        self.extra_words = extra_words
        self.word_lists = list(word_lists or [])
        self.near_words = near_words
        if not 0.0 <= respelled_fraction <= 1.0:
            raise ValueError(f"respelled_fraction must be in [0, 1], got {respelled_fraction}")
        self.respelled_fraction = respelled_fraction
        if self.word_lists:
            for source in self.word_lists:  # a bad list fails at start-up, not after the model loads
                load_word_list(source)

    def generate_examples(self, split: str) -> list[dict]:
        # Distinct seeds keep the sets independent. `test` is the second test set: the first (2_000_003)
        # was read while beam search was chosen (docs/results.md), so it no longer scores held out.
        offset = {
            "train": 0,
            "val": 1_000_003,
            "val_seen": 1_500_007,
            "test": 2_600_021,
            "val_messages": 1_700_009,
            "test_messages": 2_300_011,
            "val_phrasing": 1_800_017,
            "test_phrasing": 2_400_019,
        }[split]
        held_out = split != "train" and split != "val_seen"
        train = split == "train"
        messages = {"val_messages": 1.0, "test_messages": 1.0}.get(split, 0.0)
        if split in ("train", "val_phrasing", "test_phrasing"):  # as training mixes them: every wording asked
            messages = self.message_fraction
        phrasing = {"val_phrasing": "val", "test_phrasing": "test"}.get(split, "train")
        focus = {}
        if train and self.respelled_fraction > 0:
            focus = {
                "respelled": partial(is_respelled, tokenizer=self.tokenizer),
                "respelled_fraction": self.respelled_fraction,
            }
        return generate_java_instructions(
            self.sizes[split],
            self.seed + offset,
            held_out=held_out,
            extra_words=self.extra_words if train else 0,
            word_lists=self.word_lists if train else (),
            near_words=self.near_words if train else 0,
            message_fraction=messages,
            phrasing=phrasing,
            **focus,
        )

    def render_prompt(self, prompt: str) -> str:
        if self.uses_chat_template:
            return super().render_prompt(prompt)
        # The reference experiment's format; a model whose tokenizer opens text with a BOS (Llama, Mistral)
        # gets it here too.
        return (self.tokenizer.bos_token if tokenizer_adds_bos(self.tokenizer) else "") + prompt + "\n"
