"""Feature-map selection as a research object (spec §3; the paper's §3 and §4.1).

One idea a module:

- :mod:`~fcnt_jax.selection.selcnn`: the sel-CNN (``dropout -> conv 3x3 (C -> 1)``) and its
  first-frame training with Caffe's SGD.
- :mod:`~fcnt_jax.selection.hessian`: the Hessian diagonal of its loss, four ways (exact closed
  form, exact from structured Hessian-vector products, Hutchinson's estimate).
- :mod:`~fcnt_jax.selection.saliency`: the saliency ``S_k = sum (-g f + sign/2 h f^2)`` and top-K.
- :mod:`~fcnt_jax.selection.sparse_coding`: eq. (1), non-negative sparse coding of the target
  mask by one layer's maps (accelerated projected gradient, jitted and vmappable).
- :mod:`~fcnt_jax.selection.analysis`: the paper's Section 3 analyses (Observations 1-2,
  Fig. 2-4, Table 1) as library functions.
- :mod:`~fcnt_jax.selection.selectors`: the selector protocol ``(features, target, key, cfg,
  layer) -> scores``, the registry ``selection.method`` chooses from, the built-in selectors
  (saliency, first_order, activation, lasso, random, gates, perturbed_topk) and top-K
  selection.

The convolutions the sel-CNN and the heads share live in :mod:`fcnt_jax.conv`; ``conv_same`` and
``forward_conv_impl`` are re-exported here for older callers.
"""

from fcnt_jax.conv import conv_same, forward_conv_impl
from fcnt_jax.selection.hessian import (HESSIAN_METHODS, LossFn, hessian_diag_closed_form, hessian_diag_hutchinson,
                                        hessian_diag_hvp_probes, hessian_diagonal, hvp)
from fcnt_jax.selection.saliency import deletion_quadratic_term, gather_channels, saliency, top_k_channels
from fcnt_jax.selection.selcnn import (dropout, init_selcnn, selcnn_apply, selcnn_loss, selcnn_optimizer,
                                       sum_squared_loss, train_selcnn)
from fcnt_jax.selection.selectors import Selector, get_selector, register_selector, select_channels, selector_names

__all__ = ["HESSIAN_METHODS", "LossFn", "Selector", "get_selector", "register_selector", "selector_names", "conv_same", "deletion_quadratic_term", "dropout", "forward_conv_impl",
           "gather_channels", "hessian_diag_closed_form", "hessian_diag_hutchinson", "hessian_diag_hvp_probes",
           "hessian_diagonal", "hvp", "init_selcnn", "saliency", "selcnn_apply", "selcnn_loss", "selcnn_optimizer",
           "select_channels", "sum_squared_loss", "top_k_channels", "train_selcnn"]
