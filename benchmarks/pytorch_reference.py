"""PyTorch CPU reference for `flexctl bench`: the same three workloads, written as torch modules.

Run: python3 benchmarks/pytorch_reference.py [--seconds 5]
Needs torch (CPU); not used by the tests or CI. Prints img/s or seq/s per workload.
"""
import argparse, time
import torch
import torch.nn as nn


class PE2ReLU(nn.Module):
    """α relu(z) + (1−α)(elu(z;β) − elu(−z;β)) with per-channel α, β (α=1, β=1 initially)."""

    def __init__(self, channels):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.ones(channels))

    def forward(self, z):
        shape = (1, -1) + (1,) * (z.dim() - 2)
        a, b = self.alpha.view(shape), self.beta.view(shape)
        elu = lambda x: torch.where(x > 0, x, b * (torch.exp(torch.clamp(x, max=0)) - 1))
        return a * torch.relu(z) + (1 - a) * (elu(z) - elu(-z))


def cae2():
    act = PE2ReLU
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, 3, 1), act(16), nn.MaxPool2d(2, 2),
        nn.Conv2d(16, 8, 3, 2, 1), act(8), nn.MaxPool2d(2, 1),
        nn.ConvTranspose2d(8, 16, 3, 2), act(16),
        nn.ConvTranspose2d(16, 8, 5, 3, 1), act(8),
        nn.ConvTranspose2d(8, 1, 2, 2, 1), nn.Tanh())


class PSigRampLSTM(nn.Module):
    """LSTM(4→16) whose i, f, o gates are α σ(z) + (1−α) clip(βz + 1/2, 0, 1), candidate/cell tanh; Dense head."""

    def __init__(self, n_in=4, hidden=16):
        super().__init__()
        self.h = hidden
        self.ih = nn.Linear(n_in, 4 * hidden)
        self.hh = nn.Linear(hidden, 4 * hidden)
        self.alpha = nn.Parameter(torch.ones(3, hidden))
        self.beta = nn.Parameter(torch.full((3, hidden), 0.1))
        self.head = nn.Linear(hidden, 1)

    def gate(self, z, k):
        a, b = self.alpha[k], self.beta[k]
        return a * torch.sigmoid(z) + (1 - a) * torch.clamp(b * z + 0.5, 0, 1)

    def forward(self, x):
        n, t, _ = x.shape
        h = x.new_zeros(n, self.h)
        c = x.new_zeros(n, self.h)
        for s in range(t):
            g = self.ih(x[:, s]) + self.hh(h)
            i, f, gg, o = g.chunk(4, 1)
            i, f, o = self.gate(i, 0), self.gate(f, 1), self.gate(o, 2)
            c = f * c + i * torch.tanh(gg)
            h = o * torch.tanh(c)
        return self.head(h)


def timed(step, batch, seconds):
    for _ in range(3):
        step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        n += 1
    return batch * n / (time.perf_counter() - t0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=5)
    args = p.parse_args()
    torch.manual_seed(1)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    model = cae2()
    opt = torch.optim.Adam(model.parameters())
    x = torch.rand(128, 1, 28, 28) * 2 - 1

    def train():
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), x)
        loss.backward()
        opt.step()

    print(f"cae2-train  {timed(train, 128, args.seconds):8.0f} img/s")
    with torch.no_grad():
        print(f"cae2-infer  {timed(lambda: model(x), 128, args.seconds):8.0f} img/s")
    lstm = PSigRampLSTM()
    opt2 = torch.optim.Adam(lstm.parameters())
    xs, ys = torch.rand(50, 30, 4) * 2 - 1, torch.rand(50, 1) * 2 - 1

    def train_lstm():
        opt2.zero_grad()
        nn.functional.mse_loss(lstm(xs), ys).backward()
        opt2.step()

    print(f"lstm-train  {timed(train_lstm, 50, args.seconds):8.0f} seq/s")


if __name__ == "__main__":
    main()
