"""symnet: neural networks as graphs of scalar ops, compiled to closed-form expressions.

>>> import symnet as sn
>>> x, w, b = sn.Input("x", 3.0), sn.Parameter(0.5, name="w"), sn.Parameter(0.25, name="b")
>>> y = sn.Add([sn.Multiply([w, x]), b])
>>> y.forward()
1.75
"""

from __future__ import annotations

from .network import compile
from .errors import (
    ArityError,
    ExportLimitError,
    FormulaError,
    GradCheckError,
    GraphCycleError,
    GraphError,
    InputError,
    ModelFileError,
    NameConflictError,
    NumericalError,
    OperandError,
    SymnetError,
    UnknownOpError,
)
from .graph import (
    Add,
    Constant,
    Divide,
    Exp,
    Input,
    Log,
    Macro,
    Multiply,
    Negate,
    Node,
    Origin,
    Output,
    Parameter,
    Power,
    ReLU,
    Sigmoid,
    Subtract,
    Tanh,
    seed,
)
from .layers import MLP, Dense, Linear
from .losses import Softmax, bce, cross_entropy, mse
from .network import Network
from .ops import OPS
from .userops import define_op
from .parse import parse
from .train import train_model
from .files import load, save
from .torch_import import from_torch
from .from_micrograd import from_micrograd
from .check import check_gradients
from .derivative import check_derivative

from .version import __version__

from . import graph as _graph
from .network import NodeSession as _NodeSession

# node.forward(), node.backward() and node.compile() evaluate through the compiler,
# which sits above graph.py in the pipeline: wire it here, at the package's root.
_graph.use_node_sessions(_NodeSession)

__all__ = [
    "Add", "ArityError", "Constant", "Dense", "Divide", "Exp", "ExportLimitError", "FormulaError",
    "GradCheckError", "GraphCycleError", "GraphError", "Input", "InputError", "Linear", "Log", "MLP",
    "Macro", "ModelFileError", "Multiply", "NameConflictError", "Negate", "Network", "Node",
    "NumericalError", "OPS", "OperandError", "Origin", "Output", "Parameter", "Power", "ReLU", "Sigmoid",
    "Softmax", "Subtract", "SymnetError", "Tanh", "UnknownOpError", "bce", "compile", "cross_entropy",
    "define_op", "mse", "seed", "train_model",
    "from_torch", "from_micrograd", "load", "save",
    "check_derivative", "check_gradients",
    "parse",
]
