"""Generated Python, by concern: :mod:`~symnet.emit.python_source` writes the source,
:mod:`~symnet.emit.python_kernels` the standalone source of the kernels it binds,
:mod:`~symnet.emit.python_load` compiles and runs it, :mod:`~symnet.emit.python_train`
writes the training step. This module only gathers their public names."""

from __future__ import annotations

from .python_load import CompiledPython, codegen, load, register
from .python_source import op_counts, to_python
from .python_train import accumulate_source

__all__ = ["to_python", "op_counts", "codegen", "CompiledPython", "load", "register", "accumulate_source"]
