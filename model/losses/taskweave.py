"""TaskWeave's task-dependent joint loss (paper Eq. 9) with learnable uncertainty weights."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from model.losses.criterion import SetCriterion

#: Terms of L(theta_mr) (L1 + gIoU + CE, every decoder layer); every other term is HD.
MR_TERMS = ("loss_span", "loss_giou", "loss_label")


def uncertainty_weighted_loss(
    loss_mr: Tensor | None, loss_hd: Tensor | None, log_var_mr: Tensor, log_var_hd: Tensor
) -> Tensor:
    """L_joint = exp(-g_mr) L_mr + 2 exp(-g_hd) L_hd + g_mr + g_hd, g = log delta^2 (Eq. 9 as
    rewritten in the paper's Sec. 4.2).

    A task without terms (None, e.g. MR on TVSum) drops out together with its g, which would
    otherwise only be pushed towards -inf.

    >>> zero = torch.tensor(0.0)
    >>> float(uncertainty_weighted_loss(torch.tensor(3.0), torch.tensor(1.0), zero, zero))
    5.0
    """
    total = log_var_mr.new_zeros(())
    if loss_mr is not None:
        total = total + torch.exp(-log_var_mr) * loss_mr + log_var_mr
    if loss_hd is not None:
        total = total + 2.0 * torch.exp(-log_var_hd) * loss_hd + log_var_hd
    return total


def _base_name(term: str) -> str:
    return term.rsplit("_", 1)[0] if term[-1].isdigit() else term


class TaskWeaveCriterion(SetCriterion):
    """SetCriterion whose "total" is TaskWeave's joint loss when `uncertainty` is on.

    L_mr = sum of the weighted moment terms of every decoder layer, L_hd = sum of all other
    (saliency) terms; the learnable g_mr, g_hd come from outputs "log_var_mr", "log_var_hd"
    (model parameters, so the model's optimiser trains them). The returned per-term values
    stay the weighted terms; only "total" differs from their sum. With `uncertainty` off
    the total is the plain weighted sum (Table 6, "Sum" / "Weighted Sum").
    """

    def __init__(self, *args: Any, uncertainty: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.uncertainty = uncertainty

    def _total(self, weighted: dict[str, Tensor], outputs: dict[str, Any]) -> Tensor:
        if not self.uncertainty:
            return super()._total(weighted, outputs)
        if "log_var_mr" not in outputs or "log_var_hd" not in outputs:
            raise ValueError(
                "the uncertainty-weighted joint loss needs outputs 'log_var_mr' and "
                f"'log_var_hd' (have {sorted(outputs)}); use a TaskWeave model"
            )
        mr = [v for k, v in weighted.items() if _base_name(k) in MR_TERMS]
        hd = [v for k, v in weighted.items() if _base_name(k) not in MR_TERMS]
        return uncertainty_weighted_loss(
            torch.stack(mr).sum() if mr else None,
            torch.stack(hd).sum() if hd else None,
            outputs["log_var_mr"],
            outputs["log_var_hd"],
        )
