"""A count-based land-cover model for the `mc landcover` commands (torch only).

Each pixel's class is predicted from the pixels already visited among its four neighbours, by
naive Bayes on counts from training maps:

    p(x_i = c | visited neighbours N)  ∝  (n[c] + a) * prod_{j in N} p(x_j | c),
    p(d | c) = (m[c, d] + a) / (sum_d' m[c, d'] + C a),

with n[c] the class counts and m[c, d] the counts of 4-neighbour pairs (a pixel of class c next
to one of class d). Every factor is a normalised distribution over c given what was visited
before, so the product over any visiting order is a proper likelihood of the map. It implements
the likelihood part of landcover's interface (`mc_landcover.interface.LandcoverLikelihood`):
`num_classes`, `size` and `log_likelihood(x, order)`, which is what `mc landcover
eval-perplexity` needs.
"""

from __future__ import annotations

import torch
from torch import nn

NAME = "example-counts-landcover"


class CountLandcoverModel(nn.Module):
    def __init__(self, num_classes: int = 20, size: int = 8, alpha: float = 0.5):
        super().__init__()
        if int(num_classes) < 2 or int(size) < 1 or not float(alpha) > 0:
            raise ValueError("num_classes must be >= 2, size >= 1 and alpha > 0")
        self.num_classes, self.size, self.alpha = int(num_classes), int(size), float(alpha)
        self.register_buffer("class_counts", torch.zeros(self.num_classes, dtype=torch.float64))
        self.register_buffer("pair_counts", torch.zeros(self.num_classes, self.num_classes, dtype=torch.float64))
        self.register_buffer("neighbours", self._neighbour_table(self.size), persistent=False)

    @staticmethod
    def _neighbour_table(size: int) -> torch.Tensor:
        """(size*size, 4) flat positions of the up/down/left/right neighbours, -1 outside the map."""
        r, c = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
        r, c = r.flatten(), c.flatten()
        cols = []
        for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            rr, cc = r + dr, c + dc
            inside = (rr >= 0) & (rr < size) & (cc >= 0) & (cc < size)
            cols.append(torch.where(inside, rr * size + cc, torch.full_like(rr, -1)))
        return torch.stack(cols, dim=1)

    def config(self) -> dict:
        return {"num_classes": self.num_classes, "size": self.size, "alpha": self.alpha}

    def fit(self, maps) -> CountLandcoverModel:
        """Add the class and neighbour-pair counts of maps (N, size, size) of class indices."""
        x = torch.as_tensor(maps).long()
        c = self.num_classes
        self.class_counts += torch.bincount(x.flatten(), minlength=c).double()
        for a, b in ((x[:, 1:, :], x[:, :-1, :]), (x[:, :, 1:], x[:, :, :-1])):
            pairs = torch.bincount((a * c + b).flatten(), minlength=c * c).double().view(c, c)
            self.pair_counts += pairs + pairs.T
        return self

    def _log_tables(self) -> tuple[torch.Tensor, torch.Tensor]:
        a, c = self.alpha, self.num_classes
        log_prior = torch.log(self.class_counts + a)
        log_cond = torch.log(self.pair_counts + a) - torch.log(self.pair_counts.sum(1, keepdim=True) + c * a)
        return log_prior, log_cond  # log_cond[c, d] = log p(neighbour d | centre c)

    @torch.no_grad()
    def log_likelihood(self, x, order=None, generator=None) -> torch.Tensor:
        """log p(x) in nats, (B,), of maps x (B, size, size) visited in `order` (B, size*size)."""
        x = torch.as_tensor(x).long().to(self.class_counts.device)
        b = x.shape[0]
        n = self.size * self.size
        if x.shape[1:] != (self.size, self.size):
            raise ValueError(f"maps must have shape (B, {self.size}, {self.size}), got {tuple(x.shape)}")
        if order is None:
            order = torch.rand(b, n, generator=generator).argsort(dim=1)
        order = torch.as_tensor(order).long().to(x.device)
        flat = x.flatten(1)
        log_prior, log_cond = self._log_tables()
        visited = torch.zeros(b, n, dtype=torch.bool, device=x.device)
        ar = torch.arange(b, device=x.device)
        total = torch.zeros(b, dtype=torch.float64, device=x.device)
        for t in range(n):
            pos = order[:, t]
            logits = log_prior.expand(b, -1).clone()
            for k in range(4):
                j = self.neighbours[pos, k]
                seen = (j >= 0) & visited[ar, j.clamp_min(0)]
                cls = flat[ar, j.clamp_min(0)]
                logits += seen[:, None] * log_cond[:, cls].T
            total += torch.log_softmax(logits, dim=1)[ar, flat[ar, pos]]
            visited[ar, pos] = True
        return total.float()

    def save(self, path):
        """Write an mc checkpoint (safetensors + config.json naming this model's registry entry)."""
        from mc_core.checkpoint import save_checkpoint

        return save_checkpoint(path, self.state_dict(), model=NAME, config={"model": self.config()},
                               meta={"kind": "counts"})
