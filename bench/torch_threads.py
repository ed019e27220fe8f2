"""torch's thread count as a user would set it, its BLAS's included.

torch.set_num_threads does not reach OpenBLAS's own thread pool, which takes every CPU
the process may use: at "1 thread" torch's matmuls and convolutions ran on 2 cores of 2
(wall clock 1024^3 sgemm 12 ms, thread CPU time half of the process's). So the BLAS's
own openblas_set_num_threads is set too."""
import ctypes
import functools
import os

import torch


def blas_paths():
    """The BLAS libraries loaded in this process, after one torch matmul loads its own."""
    torch.ones(4, 4) @ torch.ones(4, 4)
    libs = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                base = os.path.basename(path)
                if any(k in base for k in ("blas", "mkl_", "blis")) and path not in libs:
                    libs.append(path)
    except OSError:
        pass
    return libs


@functools.lru_cache(maxsize=None)
def openblas_thread_setters():
    """openblas_set_num_threads of each loaded BLAS that has one."""
    fns = []
    for path in blas_paths():
        try:
            fns.append(ctypes.CDLL(path).openblas_set_num_threads)
        except (OSError, AttributeError):
            pass
    return tuple(fns)


def set_torch_threads(n):
    """n threads for torch and for the BLAS it loaded."""
    torch.set_num_threads(n)
    for fn in openblas_thread_setters():
        fn(n)
