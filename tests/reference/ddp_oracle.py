#!/usr/bin/python3
"""PyTorch DistributedDataParallel oracle for data-parallel training (test reference only).

Two processes (torch.multiprocessing, Gloo over loopback) wrap train_oracle.py's independent MoE
model of one test_trainer fixture in torch.nn.parallel.DistributedDataParallel (fp32, default
25 MB buckets, find_unused_parameters for top-1 routers that get no gradient); rank r takes window
r of the fixture's batch [2, T] (as the engine's rank r takes its contiguous share), each rank
backpropagates its own mean loss and DDP averages the gradients over the ranks. Rank 0 then checks
the engine's gradients in the fixture (one process, the mean over both windows; the CLI tests show
the engine's 2-rank run equals it) against DDP's, and the all-reduced loss, to `--tol` (fp32 rel).

  --fixture FILE [--tol 1e-4]   prints ORACLE_OK, or MISMATCH lines and exits 1
"""
import argparse
import json
import os
import socket
import sys

try:
    import torch
    import torch.distributed as dist
    import torch.multiprocessing as mp
except ImportError as e:  # a missing oracle must not look like a pass
    sys.stderr.write("ddp_oracle.py: cannot import %s; install python3-torch\n" % e.name)
    sys.exit(2)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_reference import read_safetensors  # noqa: E402
from train_oracle import check_grads, fixture_model, read_metadata  # noqa: E402

WORLD = 2


class Wrapped(torch.nn.Module):
    """The oracle model as a Module whose parameters are exactly the trainable leaves."""

    def __init__(self, m, leaves):
        super().__init__()
        self.m = m
        self.names = sorted(leaves)
        self.ps = torch.nn.ParameterList([leaves[n] for n in self.names])

    def forward(self, ids):  # ids [b, T] -> mean next-token cross-entropy
        return self.m.loss(ids)


def worker(rank, port, fixture, tol, result):
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method='tcp://127.0.0.1:%d' % port, rank=rank, world_size=WORLD)
    t = read_safetensors(fixture)
    info = json.loads(read_metadata(fixture)['info'])
    m, leaves = fixture_model(t, info)
    ids = t['ids']  # [2, T]
    assert ids.shape[0] == WORLD, 'the fixture batch must hold one window per rank'
    ddp = torch.nn.parallel.DistributedDataParallel(Wrapped(m, leaves), find_unused_parameters=True)
    loss = ddp(ids[rank:rank + 1])
    loss.backward()
    mean_loss = loss.detach().clone()
    dist.all_reduce(mean_loss)
    mean_loss /= WORLD
    grads = {n: leaves[n].grad for n in info['trainable']}
    dist.barrier()
    if rank == 0:
        try:
            check_grads(fixture, info, t, grads, mean_loss.item(), tol)
            result.value = 0
        except SystemExit:
            result.value = 1
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--fixture', required=True)
    ap.add_argument('--tol', type=float, default=1e-4)
    a = ap.parse_args()
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    result = mp.get_context('spawn').Value('i', 2)
    mp.spawn(worker, args=(port, a.fixture, a.tol, result), nprocs=WORLD, join=True)
    sys.exit(result.value)


if __name__ == '__main__':
    main()
