"""The batched arithmetic of a population of DAEs: one SGD step and one validation pass of
many networks at once, and the stacked parameters they act on (:class:`DAEGroup`).

Members with the same architecture form a *group* whose parameters are stacked,

    W1 (M, D, H)   b1 (M, 1, H)   W2 (M, H, D)   b2 (M, 1, D),

and one batched matrix product (``torch.baddbmm`` / ``torch.bmm``) serves all M members
of a minibatch step. The gradients are written out by hand with the very kernels autograd
would call (``aten::*_backward``), so that a member's weights equal those of an autograd
training of an ``nn.Module`` bit for bit on the CPU. The procedure these steps serve is
described in :mod:`rc.training`; the loop that drives them is :mod:`rc.training_loop`.
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from .dae import ACTIVATIONS, DAE, salt_and_pepper

__all__ = ["DAEGroup"]

#: Largest number of elements of one (members, images, units) temporary of the
#: validation pass (64 MB of float32); the validation images are processed in chunks.
_VAL_ELEMENTS = 1 << 24
#: Noise values drawn per member at once (16 MB of float32): whole minibatches, at least one.
_NOISE_BLOCK = 1 << 22


def _act_backward(activation: str, h: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """``grad`` (w.r.t. the activation output ``h``) -> gradient w.r.t. its input.

    The kernels autograd itself calls for relu / tanh / sigmoid, so the result is the same
    bit for bit.
    """
    if activation == "relu":
        return torch.ops.aten.threshold_backward(grad, h, 0)
    if activation == "tanh":
        return torch.ops.aten.tanh_backward(grad, h)
    return torch.ops.aten.sigmoid_backward(grad, h)


#: The activations of a group: (activation, first member, end) ranges over its members.
Ranges = list[tuple[str, int, int]]


def _hidden(ranges: Ranges, pre: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Hidden activations, each member's own; padded units (``mask`` 0) are held at 0."""
    if len(ranges) == 1:
        h = ACTIVATIONS[ranges[0][0]](pre)
    else:
        h = torch.empty_like(pre)
        for act, a, b in ranges:
            h[a:b] = ACTIVATIONS[act](pre[a:b])
    return h if mask is None else h.mul_(mask)


def _hidden_backward(ranges: Ranges, h: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """Gradient w.r.t. the pre-activations, each member with its own activation."""
    if len(ranges) == 1:
        return _act_backward(ranges[0][0], h, grad)
    out = torch.empty_like(grad)
    for act, a, b in ranges:
        out[a:b] = _act_backward(act, h[a:b], grad[a:b])
    return out


def _sgd_step(params: list[torch.Tensor], ranges: Ranges, x_noisy: torch.Tensor,
              x_clean: torch.Tensor, neg_lr: torch.Tensor,
              mask: torch.Tensor | None = None) -> torch.Tensor:
    """One SGD step of every member on its minibatch; returns the members' losses (M,).

    ``x_noisy`` / ``x_clean`` are (M, B, D); the loss of a member is the cross-entropy
    summed over pixels and averaged over its B images; ``neg_lr`` is (M, 1, 1). With a
    ``mask`` (M, 1, H) of padded hidden units, those units output 0, so their weights
    receive zero gradients and stay 0.
    """
    w1, b1, w2, b2 = params
    n = x_clean.shape[1]
    h = _hidden(ranges, torch.baddbmm(b1, x_noisy, w1), mask)  # (M, B, H)
    z = torch.baddbmm(b2, h, w2)                                   # (M, B, D) logits
    loss = F.binary_cross_entropy_with_logits(z, x_clean, reduction="none").sum((1, 2)) / n
    g_z = torch.sigmoid(z).sub_(x_clean).mul_(1.0 / n)            # dL/dz
    g_pre = _hidden_backward(ranges, h, torch.bmm(g_z, w2.transpose(1, 2)))
    w2.addcmul_(torch.bmm(h.transpose(1, 2), g_z), neg_lr)
    b2.addcmul_(g_z.sum(1, keepdim=True), neg_lr)
    w1.addcmul_(torch.bmm(x_noisy.transpose(1, 2), g_pre), neg_lr)
    b1.addcmul_(g_pre.sum(1, keepdim=True), neg_lr)
    return loss


def _val_losses(params: list[torch.Tensor], ranges: Ranges, x_val: torch.Tensor,
                val_noisy: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean validation loss of every member (M,), float64, from its corrupted inputs."""
    w1, b1, w2, b2 = params
    m, (n_val, d), h = w1.shape[0], x_val.shape, w1.shape[2]
    chunk = max(1, min(1000, _VAL_ELEMENTS // (m * max(d, h))))
    total = torch.zeros(m, dtype=torch.float64, device=x_val.device)
    for i in range(0, n_val, chunk):
        xn = val_noisy[:, i:i + chunk].to(x_val.dtype)
        z = torch.baddbmm(b2, _hidden(ranges, torch.baddbmm(b1, xn, w1), mask), w2)
        target = x_val[i:i + chunk].expand_as(z)
        total += F.binary_cross_entropy_with_logits(z, target, reduction="none"
                                                    ).sum((1, 2)).double()
    return total / n_val



class DAEGroup:
    """Stacked state of the members of one group still training.

    Members narrower than the group's widest hold zeros in their extra hidden units,
    masked to stay zero; members of mixed activations are ordered by activation, and each
    activation is applied to its range of members.
    """

    def __init__(self, members: list[int], cfgs: list[dict], daes: list[DAE],
                 x_val: torch.Tensor, batch_size: int, dev: torch.device):
        self.members = list(members)
        self.cfgs = [cfgs[m] for m in members]
        self.daes = daes
        self.widths = [d.n_hidden for d in daes]
        width = max(self.widths)

        def t(values):
            return torch.tensor(values, dtype=torch.float32, device=dev).view(-1, 1, 1)

        def pad(x, dim):  # zero-pad the hidden dimension ``dim`` of one member to ``width``
            extra = width - x.shape[dim]
            if not extra:
                return x
            shape = list(x.shape)
            shape[dim] = extra
            return torch.cat([x, x.new_zeros(shape)], dim)

        with torch.no_grad():
            self.params = [
                torch.stack([pad(d.encoder.weight.t(), 1) for d in daes]).to(dev),  # W1 (M,D,H)
                torch.stack([pad(d.encoder.bias, 0) for d in daes]).unsqueeze(1).to(dev),
                torch.stack([pad(d.decoder.weight.t(), 0) for d in daes]).to(dev),  # W2 (M,H,D)
                torch.stack([d.decoder.bias for d in daes]).unsqueeze(1).to(dev),  # b2 (M,1,D)
            ]
        self.mask = None
        if len(set(self.widths)) > 1:
            self.mask = (torch.arange(width, device=dev)[None, None, :]
                         < torch.tensor(self.widths, device=dev)[:, None, None]).float()
        self.best = [p.clone() for p in self.params]
        self.neg_lr = t([-c["learning_rate"] for c in self.cfgs])
        self.noise = t([c["noise"] for c in self.cfgs])
        self.noise_half = t([c["noise"] / 2 for c in self.cfgs])  # as salt_and_pepper's p / 2
        self.gens = [torch.Generator(device=dev).manual_seed(c["seed"]) for c in self.cfgs]
        self.batch_size, self.dev = batch_size, dev
        self.binary_val = bool(((x_val == 0) | (x_val == 1)).all())
        self._set_ranges()
        d = self.params[0].shape[1]
        #: minibatches whose noise is drawn at once: a function of the image size only, so
        #: that a member's random stream does not depend on its group
        self.block_steps = max(1, _NOISE_BLOCK // (batch_size * d))
        self._new_noise_buffer()

    @property
    def name(self) -> str:
        acts = "/".join(a for a, _, _ in self.ranges)
        widths = sorted(set(self.widths))
        return f"{widths[0] if len(widths) == 1 else f'{widths[0]}-{widths[-1]}'} {acts}"

    def _set_ranges(self) -> None:
        acts = [c["activation"] for c in self.cfgs]
        if acts != sorted(acts, key=list(ACTIVATIONS).index):
            raise ValueError("internal error: a group's members must be sorted by activation")
        self.ranges: Ranges = []
        for j, act in enumerate(acts):
            if self.ranges and self.ranges[-1][0] == act:
                self.ranges[-1] = (act, self.ranges[-1][1], j + 1)
            else:
                self.ranges.append((act, j, j + 1))

    def _new_noise_buffer(self) -> None:
        # ones: members without noise draw nothing and their u must never be < p = 0
        d = self.params[0].shape[1]
        self.uniform = torch.ones(len(self.members), self.block_steps * self.batch_size, d,
                            device=self.dev)
        self.noisy = [j for j, c in enumerate(self.cfgs) if c["noise"] > 0]

    def epoch(self, x_train: torch.Tensor) -> torch.Tensor:
        """One epoch of every member; returns their mean training losses (M,), float64.

        Each member's noise is drawn for ``block_steps`` minibatches at a time from its own
        generator (one call per member and block instead of one per minibatch); on the CPU
        this gives exactly the numbers of one draw per minibatch.
        """
        n_train, bs = x_train.shape[0], self.batch_size
        order = torch.stack([torch.randperm(n_train, generator=g, device=self.dev)
                             for g in self.gens])
        total = torch.zeros(len(self.members), device=self.dev)
        starts = list(range(0, n_train, bs))
        for b0 in range(0, len(starts), self.block_steps):
            block = starts[b0:b0 + self.block_steps]
            count = min(n_train, block[-1] + bs) - block[0]   # images in this block
            for j in self.noisy:
                self.uniform[j, :count].uniform_(0.0, 1.0, generator=self.gens[j])
            for i in block:
                batch = x_train[order[:, i:i + bs]]           # (M, B, D), one gather
                n = batch.shape[1]
                if self.noisy:
                    u = self.uniform[:, i - block[0]:i - block[0] + n]
                    noisy = torch.where(u < self.noise, (u < self.noise_half).to(batch.dtype),
                                        batch)
                else:
                    noisy = batch
                total += _sgd_step(self.params, self.ranges, noisy, batch, self.neg_lr,
                                   self.mask) * n
        return total.double() / n_train

    def val_losses(self, x_val: torch.Tensor) -> torch.Tensor:
        """Validation losses (M,) on a fresh corruption of ``x_val`` per member, drawn from
        each member's stream as train_dae draws it (binary, kept as bool)."""
        noisy = [salt_and_pepper(x_val, c["noise"], g) for c, g in zip(self.cfgs, self.gens)]
        # binary inputs are kept as bool (a quarter of the memory); grey levels as they are
        val_noisy = torch.stack([v.bool() for v in noisy] if self.binary_val else noisy)
        return _val_losses(self.params, self.ranges, x_val, val_noisy, self.mask)

    def snapshot(self, positions: list[int]) -> None:
        """Current weights of the members at ``positions`` become their best weights."""
        if positions:
            idx = torch.tensor(positions, device=self.dev)
            for best, p in zip(self.best, self.params):
                best.index_copy_(0, idx, p.index_select(0, idx))

    def best_dae(self, j: int) -> DAE:
        """The member at position ``j`` as an ``rc.DAE`` with its best weights, eval mode."""
        dae = self.daes[j].to(self.dev)
        h = self.widths[j]
        w1, b1, w2, b2 = (b[j] for b in self.best)
        with torch.no_grad():
            dae.encoder.weight.copy_(w1[:, :h].t())
            dae.encoder.bias.copy_(b1[0, :h])
            dae.decoder.weight.copy_(w2[:h].t())
            dae.decoder.bias.copy_(b2[0])
        return dae.eval()

    def keep(self, positions: list[int]) -> None:
        """Drop every member but those at ``positions`` (compacting the stacked tensors)."""
        idx = torch.tensor(positions, dtype=torch.long, device=self.dev)

        def sel(t):
            return t.index_select(0, idx)
        self.params, self.best = [sel(p) for p in self.params], [sel(b) for b in self.best]
        self.neg_lr, self.noise, self.noise_half = (sel(self.neg_lr), sel(self.noise),
                                                  sel(self.noise_half))
        if self.mask is not None:
            self.mask = sel(self.mask)
        for name in ("members", "cfgs", "daes", "gens", "widths"):
            setattr(self, name, [getattr(self, name)[j] for j in positions])
        self._set_ranges()
        self._new_noise_buffer()
