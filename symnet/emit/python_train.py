"""Generated Python for training: one function that sums a batch's loss and parameter gradient.

The function is written by the same :class:`~symnet.emit.python_source.Writer` walk
as ``gradient``, inside a loop over the rows of a batch, so a training step calls
generated code once per loss graph and batch rather than once per sample.
"""

from __future__ import annotations

from typing import Any

from ..program import Program
from ..errors import GraphError
from .python_source import CHUNK, Writer, header, setup, sum_expr, sum_lines, tuple_source, unpack

__all__ = ["accumulate_source"]


def accumulate_source(program: Program) -> tuple[str, dict[str, Any]]:
    """Source of ``accumulate(rows, params, acc)`` for a scalar loss network, and its globals.

    For every row (the inputs of one sample), it adds the loss and its gradient with
    respect to each parameter to the running sums ``acc = (loss, *grads)``, and returns
    the new sums: the same additions, in the same order, as the interpreted trainer.

    >>> import symnet as sn
    >>> from symnet.emit.python_load import load
    >>> x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
    >>> src, env = accumulate_source(sn.compile((w * x) ** 2).program)
    >>> load(src, env, "doc")["accumulate"]([(1.0,), (3.0,)], (2.0,), (0.0, 0.0))
    (40.0, 40.0)
    """
    if len(program.outputs) != 1:
        raise GraphError(f"a loss network has one output, this one has {len(program.outputs)}")
    names, values, bind = setup(program)
    w = Writer(program, names, values, bind)
    ins = [values[i] for i in program.inputs]
    pars = [values[i] for i in program.parameters]
    total = names.claim("acc_loss")
    accs = [names.claim(f"acc_{values[i]}") for i in program.parameters]
    position = {i: k for k, i in enumerate(program.parameters)}
    ind = "        "

    def sink(i: int, ts: list[str], out: list[str]) -> None:
        if not ts:
            return
        acc = accs[position[i]]
        if len(ts) <= CHUNK:
            out.append(f"{ind}{acc} += {sum_expr(ts)}")
        else:
            tmp = names.claim(f"d_{values[i]}")
            out.extend(sum_lines(tmp, ts, ind))
            out.append(f"{ind}{acc} += {tmp}")

    rev = w.reverse(program.parameters, ["1.0"], ind, sink)
    row = names.claim("row") if not ins else None
    loop = f"    for {', '.join(ins)}{',' if len(ins) == 1 else ''} in rows:" if ins else f"    for {row} in rows:"
    lines = [header(program), "def accumulate(rows, params, acc):",
             '    """Add each row\'s loss and parameter gradient to acc = (loss, *grads)."""',
             *unpack(pars, "params", "    "), *unpack([total, *accs], "acc", "    "),
             loop, *w.forward(ind), f"{ind}{total} += {values[program.outputs[0]]}", *rev,
             f"    return {tuple_source([total, *accs])}", ""]
    return "\n".join(lines), bind.env
