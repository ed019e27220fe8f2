"""cnnc.distributed: torch.distributed's process-group calls over MPI (run under mpirun).

    import cnnc, cnnc.distributed as dist
    dist.init_process_group(backend="mpi")
    dist.all_reduce(t, op=dist.ReduceOp.SUM)

Present when libcnnc was built with MPI (is_available()); otherwise every call but
is_available raises RuntimeError."""
from ctypes import c_bool, c_int, c_void_p

from . import _lib
from .tensor import Tensor
from .tensor import tensor as _new_tensor

__all__ = ["ReduceOp", "is_available", "is_initialized", "init_process_group",
           "destroy_process_group", "get_rank", "get_world_size", "barrier", "all_reduce",
           "broadcast", "all_gather", "is_main_process"]

T, M, S = c_void_p, c_void_p, c_int
_lib.declare([("cnnc_dist_available", c_bool, [], None)])
_AVAILABLE = bool(_lib.cnnc_dist_available())
if _AVAILABLE:
    _lib.declare([
        ("cnnc_dist_init", S, [], "status"),
        ("cnnc_dist_finalize", S, [], "status"),
        ("cnnc_dist_is_initialized", c_bool, [], None),
        ("cnnc_dist_rank", c_int, [], None),
        ("cnnc_dist_world_size", c_int, [], None),
        ("cnnc_dist_barrier", S, [], "status"),
        ("cnnc_dist_all_reduce", S, [T, c_int], "status"),
        ("cnnc_dist_broadcast", S, [T, c_int], "status"),
        ("cnnc_dist_all_gather", T, [T], "ptr"),
        ("cnnc_dist_is_main_process", c_bool, [], None),
    ])


class ReduceOp:
    """torch.distributed.ReduceOp (cnnc_reduce_op)."""
    SUM, AVG, MAX, MIN = 0, 1, 2, 3


def is_available():
    return _AVAILABLE


def _need():
    if not _AVAILABLE:
        raise RuntimeError("cnnc was built without MPI: the distributed part is not available "
                           "(install libopenmpi-dev and rebuild)")


def is_initialized():
    return _AVAILABLE and bool(_lib.cnnc_dist_is_initialized())


def init_process_group(backend="mpi", init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None):
    """Only backend="mpi": rank and world size come from mpirun."""
    _need()
    if str(backend).lower() != "mpi":
        raise ValueError("cnnc supports only backend='mpi', got %r" % (backend,))
    _lib.cnnc_dist_init()
    for name, want, got in (("world_size", world_size, get_world_size()), ("rank", rank, get_rank())):
        if want != -1 and want != got:
            raise ValueError("init_process_group(): %s=%d but mpirun gives %d" % (name, want, got))


def destroy_process_group(group=None):
    _need()
    _lib.cnnc_dist_finalize()


def _int_or_raise(v):
    if v < 0:
        _lib.raise_last()
    return v


def get_rank(group=None):
    _need()
    return _int_or_raise(_lib.cnnc_dist_rank())


def get_world_size(group=None):
    _need()
    return _int_or_raise(_lib.cnnc_dist_world_size())


def is_main_process():
    _need()
    return bool(_lib.cnnc_dist_is_main_process())


def barrier(group=None, async_op=False, device_ids=None):
    _need()
    _lib.cnnc_dist_barrier()


def _tensor(t, fn):
    if not isinstance(t, Tensor):
        raise TypeError("%s(): tensor must be a cnnc.Tensor, got %s" % (fn, type(t).__name__))
    return t._h


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """In place: tensor becomes the reduction over all ranks."""
    _need()
    _lib.cnnc_dist_all_reduce(_tensor(tensor, "all_reduce"), int(op))


def broadcast(tensor, src, group=None, async_op=False):
    _need()
    _lib.cnnc_dist_broadcast(_tensor(tensor, "broadcast"), int(src))


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """torch's form: fills tensor_list[r] with rank r's tensor."""
    _need()
    g = Tensor(_lib.cnnc_dist_all_gather(_tensor(tensor, "all_gather")))
    n = get_world_size()
    if len(tensor_list) != n:
        raise ValueError("all_gather(): tensor_list has %d entries, the world size is %d"
                         % (len(tensor_list), n))
    rows = g.numpy()
    for r in range(n):
        tensor_list[r].copy_(_new_tensor(rows[r]))
