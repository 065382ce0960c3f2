"""Distances between feature distributions: Fréchet (FID), kernel MMD (KID), Inception Score."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core_gan.errors import UserError


@dataclass
class FeatureStats:
    """Streaming mean and covariance in float64: running sum x and sum x x^T, memory O(d^2) in N."""

    n: int
    total: np.ndarray
    outer: np.ndarray

    @classmethod
    def empty(cls, dim: int) -> FeatureStats:
        return cls(0, np.zeros(dim, np.float64), np.zeros((dim, dim), np.float64))

    def update(self, features: torch.Tensor | np.ndarray) -> None:
        """Add a batch of features (B, d)."""
        x = features.detach().cpu().double().numpy() if isinstance(features, torch.Tensor) else features
        x = np.asarray(x, dtype=np.float64)
        self.n += x.shape[0]
        self.total += x.sum(0)
        self.outer += x.T @ x

    @property
    def mu(self) -> np.ndarray:
        return self.total / self.n

    @property
    def sigma(self) -> np.ndarray:
        """Unbiased covariance (divides by N - 1, as ``np.cov``)."""
        if self.n < 2:
            raise UserError(f"a covariance needs at least 2 images, got {self.n}")
        return (self.outer - self.n * np.outer(self.mu, self.mu)) / (self.n - 1)


def save_stats(path: str | Path, mu: np.ndarray, sigma: np.ndarray) -> None:
    """pytorch-fid's reference-statistics format: an ``.npz`` with ``mu`` and ``sigma``."""
    from core_gan.checkpoint import atomic_write

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, mu=mu, sigma=sigma)

    atomic_write(path, write)


def load_stats(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return data["mu"].astype(np.float64), data["sigma"].astype(np.float64)
    except (OSError, KeyError, ValueError) as e:
        raise UserError(f"{path}: not a statistics file with 'mu' and 'sigma' ({e})") from e


def _trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr sqrt(S1 S2) = sum sqrt(eig(S1 S2)), via the symmetric form sqrt(S1) S2 sqrt(S1).

    Both have the same eigenvalues; the symmetric form lets ``eigh`` (fast, real) do the work.
    Eigenvalues below the rank-revealing tolerance d * eps * max|eig| are rounding noise of a
    rank-deficient covariance (N < d) and count as 0.
    """
    w, v = np.linalg.eigh(sigma1)
    sqrt1 = (v * np.sqrt(_clip_noise(w))) @ v.T
    return float(np.sqrt(_clip_noise(np.linalg.eigvalsh(sqrt1 @ sigma2 @ sqrt1))).sum())


def _clip_noise(eigenvalues: np.ndarray) -> np.ndarray:
    tolerance = len(eigenvalues) * np.finfo(np.float64).eps * np.abs(eigenvalues).max(initial=0.0)
    return np.where(eigenvalues > tolerance, eigenvalues, 0.0)


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrt(S1 S2)): Heusel et al. 2017, Eq. 6 (Fréchet / W2 of Gaussians).

    In float64; if the product is numerically singular (non-finite), ``eps`` I is added to both
    covariances and the trace recomputed, as pytorch-fid does.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise UserError(f"statistics of different dimensions: {mu1.shape} vs {mu2.shape}")
    diff = mu1 - mu2
    tr_covmean = _trace_sqrt_product(sigma1, sigma2)
    if not np.isfinite(tr_covmean):
        offset = np.eye(sigma1.shape[0]) * eps
        tr_covmean = _trace_sqrt_product(sigma1 + offset, sigma2 + offset)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)


def warn_small_sample(n: int, dim: int = 2048) -> None:
    if n < dim:
        warnings.warn(
            f"FID from {n} images (< {dim}, the feature dimension): the covariance is rank deficient and "
            "FID is biased upwards; compare only numbers computed with the same N",
            stacklevel=2,
        )


def kernel_inception_distance(
    f1: np.ndarray, f2: np.ndarray, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3, mean and std over random subsets (Bińkowski et al.
    2018, Eq. 4; the subset protocol of their code and torch-fidelity)."""
    f1, f2 = np.asarray(f1, np.float64), np.asarray(f2, np.float64)
    d = f1.shape[1]
    m = min(len(f1), len(f2), subset_size)
    if m < 2:
        raise UserError(f"KID needs at least 2 images per side, got {len(f1)} and {len(f2)}")
    rng = np.random.default_rng(seed)
    mmds = np.empty(subsets)
    for i in range(subsets):
        x = f1[rng.choice(len(f1), m, replace=False)]
        y = f2[rng.choice(len(f2), m, replace=False)]
        k_xx, k_yy, k_xy = ((x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3)
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
        mmds[i] = within - 2 * k_xy.mean()
    return float(mmds.mean()), float(mmds.std())


def inception_score(logits: np.ndarray | torch.Tensor, splits: int = 10) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))), mean and std over ``splits`` parts (Salimans et al. 2016, section 4)."""
    logits = torch.as_tensor(logits, dtype=torch.float64)
    if len(logits) < splits:
        raise UserError(f"IS with {splits} splits needs at least {splits} images, got {len(logits)}")
    scores = []
    for part in logits.chunk(splits):
        log_p = torch.log_softmax(part, dim=1)
        log_py = torch.logsumexp(log_p, dim=0) - np.log(len(part))
        kl = (log_p.exp() * (log_p - log_py)).sum(dim=1).mean()
        scores.append(kl.exp().item())
    return float(np.mean(scores)), float(np.std(scores))


def distribution_distances(
    fake: np.ndarray, real: np.ndarray, subsets: int = 100, subset_size: int = 1000
) -> dict[str, float]:
    """FID (Heusel et al. 2017) and KID with its std over subsets (Bińkowski et al. 2018) between two
    feature sets (N, d): the one place both are assembled from features."""
    stats = []
    for features in (fake, real):
        s = FeatureStats.empty(features.shape[1])
        s.update(features)
        stats.append(s)
    kid, kid_std = kernel_inception_distance(fake, real, subsets, subset_size)
    fid = frechet_distance(stats[0].mu, stats[0].sigma, stats[1].mu, stats[1].sigma)
    return {"fid": fid, "kid": kid, "kid_std": kid_std}
