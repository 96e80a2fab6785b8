"""A Trainer whose precision follows the hardware unless a config names one."""

from __future__ import annotations

from typing import Optional, Union

import lightning as L

from modules.hardware import resolve_precision


class Trainer(L.Trainer):
    def __init__(self, *args, precision: Optional[Union[str, int]] = "auto", **kwargs):
        """Lightning's Trainer with `precision: auto`.

        Args:
            precision: "auto" is bf16-mixed where the device computes bf16 natively (recent GPUs, CPUs
                with AVX512-BF16/AMX) and 32-true elsewhere: on AVX2-only CPUs bf16 was measured 25x
                slower. Any Lightning precision ("32-true", "bf16-mixed", "16-mixed", ...) is passed on.
        """
        accelerator = kwargs.get("accelerator")
        super().__init__(*args, precision=resolve_precision(precision, accelerator), **kwargs)
