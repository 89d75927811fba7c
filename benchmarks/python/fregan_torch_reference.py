"""The same FREGAN (default options) and training step written in Python torch, to compare the
C++ loop against: same architecture, losses, optimizer, batch, crop and threads.

    .venv/bin/python benchmarks/python/fregan_torch_reference.py --steps 10
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def down(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2))


def up(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, 4 * cout, 3, 1, 1, bias=False), nn.PixelShuffle(2), nn.BatchNorm2d(cout), nn.ReLU())


class Generator(nn.Module):
    def __init__(self, base=32, cap=256, levels=4):
        super().__init__()
        ch = [min(base << l, cap) for l in range(levels)]
        self.down = nn.ModuleList()
        cin = 6
        for c in ch:
            self.down.append(down(cin, c))
            cin = c
        self.up = nn.ModuleList()
        for l in reversed(range(levels)):
            cin = ch[l] * (1 if l == levels - 1 else 2)
            self.up.append(up(cin, ch[max(l - 1, 0)]))
        self.head = nn.Conv2d(ch[0] + 6, 3, 3, 1, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, f0, f2):
        x = inp = torch.cat([f0, f2], 1) * 2 - 1
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        for i, block in enumerate(self.up):
            if i > 0:
                x = torch.cat([x, skips[-1 - i]], 1)
            x = block(x)
        x = self.head(torch.cat([x, inp], 1))
        return (f0 + f2) * 0.5 + torch.tanh(x)


class Discriminator(nn.Module):
    def __init__(self, base=32, cap=256, levels=4):
        super().__init__()
        layers, cin = [], 3
        for l in range(levels):
            c = min(base << l, cap)
            layers.append(nn.Conv2d(cin, c, 4, 2, 1, bias=l == 0))
            if l > 0:
                layers.append(nn.BatchNorm2d(c))
            layers.append(nn.LeakyReLU(0.2))
            cin = c
        layers.append(nn.Conv2d(cin, 1, 3, 1, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x * 2 - 1).mean((1, 2, 3))


def smooth_l1(pred, target, beta=0.5):
    d = ((pred - target) * 2).abs()
    return torch.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta).mean()


def bce(logits, targets):
    return ((1 - targets) * logits + F.softplus(-logits)).mean()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch-size", type=int, default=9)
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--adv-weight", type=float, default=1e-3)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    g, d = Generator(), Discriminator()
    og = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
    od = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
    f0, f1, f2 = (torch.rand(a.batch_size, 3, a.crop, a.crop) for _ in range(3))

    def step():
        fake = g(f0, f2)
        real_t = torch.rand(a.batch_size) * 0.4 + 0.7
        fake_t = torch.rand(a.batch_size) * 0.3
        d_loss = (bce(d(f1), real_t) + bce(d(fake.detach()), fake_t)) * 0.5
        od.zero_grad()
        d_loss.backward()
        od.step()
        g_loss = smooth_l1(fake, f1) + a.adv_weight * F.softplus(-d(fake)).mean()
        og.zero_grad()
        g_loss.backward()
        og.step()

    step()  # warm-up
    start = time.perf_counter()
    for _ in range(a.steps):
        step()
    elapsed = time.perf_counter() - start
    print(f"python torch {torch.__version__}: {a.steps * a.batch_size / elapsed:.2f} samples/s "
          f"({elapsed / a.steps * 1000:.0f} ms/step, batch {a.batch_size}, crop {a.crop}, threads {a.threads})")


if __name__ == "__main__":
    main()
