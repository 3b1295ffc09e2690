"""A tiny decoder-only transformer language model, small enough to pre-train on 2 CPU cores in a minute or two.

Pre-norm blocks (``x + attn(ln(x))``, ``x + mlp(ln(x))``), causal self-attention through
``torch.nn.functional.scaled_dot_product_attention(is_causal=True)``, learned positions, and the output layer tied
to the token embedding (``logits = ln(h) @ E^T``). Wrapped as a Composer model whose loss is the mean next-token
cross-entropy and whose eval metrics are Composer's ``LanguageCrossEntropy`` and ``LanguagePerplexity``.
"""
from __future__ import annotations

import math
from typing import Any, Optional

import torch
import torch.nn.functional as F
from composer.models import ComposerModel
from torch import nn

__all__ = ['TinyLM', 'ComposerTinyLM', 'tiny_lm']


class _Block(nn.Module):
    """``x + attn(ln1(x))`` then ``x + mlp(ln2(x))``; attention is causal, the MLP is ``d -> mlp_ratio*d -> d``."""

    def __init__(self, d_model: int, n_heads: int, mlp_ratio: int, dropout: float):
        super().__init__()
        self.n_heads, self.dropout = n_heads, dropout
        self.ln1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, mlp_ratio * d_model), nn.GELU(),
                                 nn.Linear(mlp_ratio * d_model, d_model))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)
        x = x + self.drop(self.proj(a.transpose(1, 2).reshape(b, t, d)))
        return x + self.drop(self.mlp(self.ln2(x)))


class TinyLM(nn.Module):
    """A decoder-only transformer over ``vocab_size`` tokens: ``(B, T)`` ids in, ``(B, T, vocab_size)`` logits out.

    Parameters: ``vocab_size*d + context*d + n_layers*(12 d^2 + 13 d) + 2 d`` (embeddings tied to the output);
    the defaults (``d=96``, 3 layers, context 64, 256 byte tokens) have 366,432.

    Args:
        vocab_size: tokens, ``>= 2`` (256 for bytes).
        context: longest input, ``>= 1`` (the learned positions).
        d_model: width, ``>= 1`` and a multiple of ``n_heads``.
        n_layers: transformer blocks, ``>= 1``.
        n_heads: attention heads, ``>= 1``.
        mlp_ratio: MLP hidden width over ``d_model``, ``>= 1``.
        dropout: on attention weights and residual branches, in ``[0, 1)``.

    Raises:
        ValueError: an argument out of range.

    Example:
        >>> model = TinyLM(context=64)
        >>> model(torch.zeros(2, 64, dtype=torch.long)).shape
        torch.Size([2, 64, 256])
    """

    def __init__(self, vocab_size: int = 256, context: int = 64, d_model: int = 96, n_layers: int = 3,
                 n_heads: int = 4, mlp_ratio: int = 4, dropout: float = 0.0):
        super().__init__()
        for name, v, lo in (('vocab_size', vocab_size, 2), ('context', context, 1), ('d_model', d_model, 1),
                            ('n_layers', n_layers, 1), ('n_heads', n_heads, 1), ('mlp_ratio', mlp_ratio, 1)):
            if not isinstance(v, int) or isinstance(v, bool) or v < lo:
                raise ValueError(f'{name}={v!r} is not allowed: {name} must be an integer >= {lo}.')
        if d_model % n_heads:
            raise ValueError(f'd_model={d_model!r} is not allowed: d_model must be a multiple of n_heads ({n_heads}).')
        if not 0 <= dropout < 1:
            raise ValueError(f'dropout={dropout!r} is not allowed: dropout must be in [0, 1).')
        self.context = context
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(context, d_model)
        self.blocks = nn.ModuleList(_Block(d_model, n_heads, mlp_ratio, dropout) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model)
        self.drop = nn.Dropout(dropout)
        # GPT-2's initialisation: N(0, 0.02), residual output layers shrunk by sqrt(2 * n_layers) so the residual
        # stream's variance does not grow with depth.
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        for blk in self.blocks:
            for lin in (blk.proj, blk.mlp[2]):
                nn.init.normal_(lin.weight, std=0.02 / math.sqrt(2 * n_layers))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        t = ids.shape[1]
        if t > self.context:
            raise ValueError(f'an input of {t} tokens is longer than the model\'s context ({self.context}).')
        x = self.drop(self.tok(ids) + self.pos(torch.arange(t, device=ids.device)))
        for blk in self.blocks:
            x = blk(x)
        return self.ln_f(x) @ self.tok.weight.T  # tied output layer


class ComposerTinyLM(ComposerModel):
    """:class:`TinyLM` as a Composer model: batches are ``(input_ids, target_ids)``, the loss is the mean
    next-token cross-entropy (nats), the metrics Composer's ``LanguageCrossEntropy`` (train and eval) and
    ``LanguagePerplexity`` (eval, ``exp`` of the cross-entropy).

    Example:
        >>> model = ComposerTinyLM(TinyLM(context=8))
        >>> batch = (torch.zeros(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))
        >>> float(model.loss(model(batch), batch)) > 0
        True
    """

    def __init__(self, module: TinyLM):
        super().__init__()
        from composer.metrics.nlp import LanguageCrossEntropy, LanguagePerplexity

        self.module = module
        self.train_metrics = {'LanguageCrossEntropy': LanguageCrossEntropy()}
        self.val_metrics = {'LanguageCrossEntropy': LanguageCrossEntropy(),
                            'LanguagePerplexity': LanguagePerplexity()}

    def forward(self, batch: Any) -> torch.Tensor:
        return self.module(batch[0])

    def loss(self, outputs: torch.Tensor, batch: Any, *args, **kwargs) -> torch.Tensor:
        return F.cross_entropy(outputs.flatten(0, 1), batch[1].flatten())

    def eval_forward(self, batch: Any, outputs: Optional[Any] = None) -> torch.Tensor:
        return outputs if outputs is not None else self.forward(batch)

    def get_metrics(self, is_train: bool = False) -> dict:
        return self.train_metrics if is_train else self.val_metrics

    def update_metric(self, batch: Any, outputs: Any, metric) -> None:
        metric.update(outputs, batch[1])


def tiny_lm(vocab_size: int = 256, context: int = 64, d_model: int = 96, n_layers: int = 3, n_heads: int = 4,
            mlp_ratio: int = 4, dropout: float = 0.0) -> ComposerTinyLM:
    """A decoder-only transformer language model with Composer's language metrics (recipe model ``tiny_lm``).

    :class:`TinyLM` wrapped in :class:`ComposerTinyLM`; arguments and ranges as :class:`TinyLM`.

    Example:
        >>> sum(p.numel() for p in tiny_lm().parameters())
        366432
    """
    return ComposerTinyLM(TinyLM(vocab_size, context, d_model, n_layers, n_heads, mlp_ratio, dropout))
