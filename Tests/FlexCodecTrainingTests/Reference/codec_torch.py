"""CompressAI's FactorizedPrior (Ballé et al. 2018) written in plain PyTorch, for the codec's reference test
(codec_reference.py) and the training-step benchmark (benchmarks/codec_train_step.py).

CompressAI is not a dependency: the layers below follow its published definitions (compressai/layers/gdn.py,
compressai/ops/parametrizers.py, compressai/ops/bound_ops.py, compressai/entropy_models/entropy_models.py,
compressai/models/google.py) and are written from them, with parameter names and layouts as its state_dict:

- conv OIHW, transposed conv IOHW (torch's own layouts);
- GDN `beta` [C] and `gamma` [C, C] hold the *reparametrised* values p, value = max(p, bound)^2 - pedestal,
  with CompressAI's LowerBound gradient rule (pass the gradient where p >= bound or where it is negative);
- the entropy bottleneck's `_matrix{k}` [C, e[k+1], e[k]], `_bias{k}` and `_factor{k}` [C, e[k+1], 1],
  `quantiles` [C, 1, 3].

One deliberate difference from CompressAI, as flexctl (docs/entropy-model.md): the sign trick uses +1 where
lower + upper == 0 exactly (torch.sign(0) = 0 would make the likelihood 0).
"""

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class LowerBoundFunction(torch.autograd.Function):
    """max(x, bound) whose gradient passes where x >= bound or where it is negative (CompressAI's rule)."""

    @staticmethod
    def forward(ctx, x, bound):
        ctx.save_for_backward(x, bound)
        return torch.max(x, bound)

    @staticmethod
    def backward(ctx, grad_output):
        x, bound = ctx.saved_tensors
        pass_through = (x >= bound) | (grad_output < 0)
        return pass_through.type(grad_output.dtype) * grad_output, None


class LowerBound(nn.Module):
    def __init__(self, bound):
        super().__init__()
        # A float32 buffer as CompressAI's (so the bound is the float32 rounding even in a float64 model).
        self.register_buffer("bound", torch.tensor([float(bound)], dtype=torch.float32))

    def forward(self, x):
        return LowerBoundFunction.apply(x, self.bound.to(x.dtype))


class NonNegativeParametrizer(nn.Module):
    def __init__(self, minimum=0.0, reparam_offset=2.0**-18):
        super().__init__()
        pedestal = reparam_offset**2
        self.register_buffer("pedestal", torch.tensor([pedestal], dtype=torch.float32))
        self.lower_bound = LowerBound((minimum + pedestal) ** 0.5)

    def init(self, x):
        p = self.pedestal.to(x.dtype)
        return torch.sqrt(torch.max(x + p, p))

    def forward(self, x):
        out = self.lower_bound(x)
        return out**2 - self.pedestal.to(x.dtype)


class GDN(nn.Module):
    """y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2) (inverse: times the root)."""

    def __init__(self, channels, inverse=False, beta_min=1e-6, gamma_init=0.1):
        super().__init__()
        self.inverse = inverse
        self.beta_reparam = NonNegativeParametrizer(minimum=beta_min)
        self.gamma_reparam = NonNegativeParametrizer()
        self.beta = nn.Parameter(self.beta_reparam.init(torch.ones(channels)))
        self.gamma = nn.Parameter(self.gamma_reparam.init(gamma_init * torch.eye(channels)))

    def forward(self, x):
        c = x.shape[1]
        beta = self.beta_reparam(self.beta)
        gamma = self.gamma_reparam(self.gamma).reshape(c, c, 1, 1)
        norm = F.conv2d(x * x, gamma, beta)
        return x * (torch.sqrt(norm) if self.inverse else torch.rsqrt(norm))


class EntropyBottleneck(nn.Module):
    """The factorized density (filters (3, 3, 3, 3), init_scale 10, tail_mass 1e-9), training mode only."""

    def __init__(self, channels, filters=(3, 3, 3, 3), init_scale=10.0, tail_mass=1e-9):
        super().__init__()
        self.filters = tuple(filters)
        e = (1,) + self.filters + (1,)
        scale = init_scale ** (1 / (len(self.filters) + 1))
        for i in range(len(self.filters) + 1):
            init = float(np.log(np.expm1(1 / scale / e[i + 1])))
            self.register_parameter(f"_matrix{i}", nn.Parameter(torch.full((channels, e[i + 1], e[i]), init)))
            self.register_parameter(f"_bias{i}", nn.Parameter(torch.empty(channels, e[i + 1], 1).uniform_(-0.5, 0.5)))
            if i < len(self.filters):
                self.register_parameter(f"_factor{i}", nn.Parameter(torch.zeros(channels, e[i + 1], 1)))
        self.quantiles = nn.Parameter(torch.tensor([-init_scale, 0.0, init_scale]).repeat(channels, 1, 1))
        t = math.log(2 / tail_mass - 1)
        self.register_buffer("target", torch.tensor([-t, 0.0, t]))
        self.likelihood_bound = LowerBound(1e-9)

    def logits_cumulative(self, v, stop_gradient):
        for i in range(len(self.filters) + 1):
            matrix = getattr(self, f"_matrix{i}")
            bias = getattr(self, f"_bias{i}")
            if stop_gradient:
                matrix, bias = matrix.detach(), bias.detach()
            v = torch.matmul(F.softplus(matrix), v) + bias
            if i < len(self.filters):
                factor = getattr(self, f"_factor{i}")
                if stop_gradient:
                    factor = factor.detach()
                v = v + torch.tanh(factor) * torch.tanh(v)
        return v

    def likelihood(self, y):
        """Likelihoods of y [N, C, H, W] (already noisy), bounded below by 1e-9."""
        n, c, h, w = y.shape
        v = y.permute(1, 0, 2, 3).reshape(c, 1, -1)
        lower = self.logits_cumulative(v - 0.5, stop_gradient=False)
        upper = self.logits_cumulative(v + 0.5, stop_gradient=False)
        sign = torch.where(lower + upper > 0, -1.0, 1.0).to(v.dtype).detach()
        p = torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))
        p = self.likelihood_bound(p)
        return p.reshape(c, n, h, w).permute(1, 0, 2, 3)

    def aux_loss(self):
        logits = self.logits_cumulative(self.quantiles, stop_gradient=True)
        return torch.abs(logits - self.target.to(logits.dtype)).sum()


class FactorizedPrior(nn.Module):
    def __init__(self, n, m):
        super().__init__()

        def conv(i, o):
            return nn.Conv2d(i, o, 5, stride=2, padding=2)

        def deconv(i, o):
            return nn.ConvTranspose2d(i, o, 5, stride=2, padding=2, output_padding=1)

        self.g_a = nn.Sequential(conv(3, n), GDN(n), conv(n, n), GDN(n), conv(n, n), GDN(n), conv(n, m))
        self.g_s = nn.Sequential(deconv(m, n), GDN(n, inverse=True), deconv(n, n), GDN(n, inverse=True),
                                 deconv(n, n), GDN(n, inverse=True), deconv(n, 3))
        self.entropy_bottleneck = EntropyBottleneck(m)

    def main_parameters(self):
        return [p for name, p in self.named_parameters() if not name.endswith("quantiles")]

    def aux_parameters(self):
        return [self.entropy_bottleneck.quantiles]

    def forward(self, x, noise):
        """x̂ and the likelihoods with the given quantisation noise (shaped as the latents)."""
        y = self.g_a(x)
        y_tilde = y + noise
        return self.g_s(y_tilde), self.entropy_bottleneck.likelihood(y_tilde)


def rate_distortion(x, x_hat, likelihoods, lmbda):
    """(loss, bits, mse): CompressAI's RateDistortionLoss, lambda * 255^2 * MSE + bpp."""
    n, _, h, w = x.shape
    bits = -torch.log(likelihoods).sum() / math.log(2)
    mse = F.mse_loss(x_hat, x)
    return lmbda * 255**2 * mse + bits / (n * h * w), bits, mse


def flexctl_names(model):
    """torch parameter name -> flexctl's TrainableCodec.namedParameters name (and whether the trailing 1 is dropped)."""
    out = {}
    for name, _ in model.named_parameters():
        part = name.split(".")
        if part[0] == "g_a":
            out[name] = f"analysis.layers.{part[1]}.{part[2]}"
        elif part[0] == "g_s":
            out[name] = f"synthesis.layers.{part[1]}.{part[2]}"
        else:
            out[name] = "entropy." + part[1].lstrip("_")
    return out
