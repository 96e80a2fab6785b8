"""The Java tasks: plain next-token training on Java code, and instruction -> method, scored by
exact match and javac."""

from datamodules.java.corpus import JavaCorpusDataModule
from datamodules.java.instruct import JavaInstructDataModule, generate_java_instructions
from datamodules.java.metric import JavaMetrics, normalize_code

__all__ = [
    "JavaCorpusDataModule",
    "JavaInstructDataModule",
    "JavaMetrics",
    "generate_java_instructions",
    "normalize_code",
]
