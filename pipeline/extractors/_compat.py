"""The one place pytorchvideo is imported, after making its removed torchvision import resolve.

pytorchvideo 0.1.5 (the last release) does `import torchvision.transforms.functional_tensor`,
a module torchvision renamed to `_functional_tensor` (0.17) and then removed. Importing this
module registers the old name as an alias of the new module in `sys.modules`, so
`import pytorchvideo.transforms` works again. Nothing else of torchvision is changed.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import warnings
from collections.abc import Callable
from types import ModuleType

_OLD = "torchvision.transforms.functional_tensor"
_NEW = "torchvision.transforms._functional_tensor"


def install_functional_tensor_alias() -> ModuleType:
    """Make `torchvision.transforms.functional_tensor` importable; returns the module it names."""
    if _OLD in sys.modules:
        return sys.modules[_OLD]
    if importlib.util.find_spec(_OLD) is not None:  # an old torchvision that still ships it
        return importlib.import_module(_OLD)
    module = importlib.import_module(_NEW)
    sys.modules[_OLD] = module
    return module


install_functional_tensor_alias()


def pytorchvideo_create_slowfast() -> Callable[..., object]:
    """`pytorchvideo.models.slowfast.create_slowfast`, imported behind the alias.

    pytorchvideo's import decorates functions with `torch.jit.script`, which recent torch
    flags with FutureWarnings that are not ours to fix; they are silenced for the import only.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, message=r".*torch\.jit\.")
        from pytorchvideo.models.slowfast import create_slowfast
    return create_slowfast
