"""cnnc.nn.parallel.DistributedDataParallel (torch's constructor keywords; MPI builds only)."""
import contextlib
from ctypes import c_bool, c_double, c_int, c_int64, c_void_p

from .. import _lib, distributed
from .modules import Module

__all__ = ["DistributedDataParallel"]


class DDPOptions(_lib.CStruct):
    _c_types_ = ("cnnc_ddp_options",)
    _fields_ = [("bucket_cap_mb", c_double), ("broadcast_buffers", c_bool)]


if distributed.is_available():
    M = c_void_p
    _lib.declare([
        ("cnnc_ddp_new", M, [M, DDPOptions], "ptr"),
        ("cnnc_ddp_set_require_sync", c_int, [M, c_bool], "status"),
        ("cnnc_ddp_finish", c_int, [M], "status"),
        ("cnnc_ddp_num_buckets", c_int, [M], None),
        ("cnnc_ddp_bucket_bytes", c_int64, [M, c_int], None),
        ("cnnc_ddp_comm_seconds", c_double, [M], None),
    ])


class DistributedDataParallel(Module):
    """Wraps module: parameters and buffers broadcast from rank 0 now, gradients averaged
    over ranks during backward, buffers broadcast at each forward. state_dict keys are
    'module.<name>'."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=True, process_group=None, bucket_cap_mb=25,
                 find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False):
        distributed._need()
        if not isinstance(module, Module):
            raise TypeError("DistributedDataParallel expects a cnnc.nn.Module, got %s"
                            % type(module).__name__)
        if device_ids not in (None, []) or output_device is not None:
            raise ValueError("cnnc runs on the CPU: device_ids and output_device must be None")
        if find_unused_parameters:
            raise ValueError("find_unused_parameters=True is not supported: call ddp.finish() "
                             "after a backward that leaves parameters without gradients")
        super().__init__(_lib.cnnc_ddp_new(module._h, DDPOptions(float(bucket_cap_mb),
                                                                 bool(broadcast_buffers))))

    @property
    def module(self):
        return self.get_submodule("module") if hasattr(self, "get_submodule") else \
            dict(self.named_children())["module"]

    @contextlib.contextmanager
    def no_sync(self):
        """Backward inside accumulates local gradients only."""
        _lib.cnnc_ddp_set_require_sync(self._h, False)
        try:
            yield
        finally:
            _lib.cnnc_ddp_set_require_sync(self._h, True)

    def finish(self):
        """cnnc_ddp_finish: completes a backward in which some parameters got no gradient."""
        _lib.cnnc_ddp_finish(self._h)

    def bucket_sizes(self):
        """Bytes per gradient bucket, in reduction order."""
        return [_lib.cnnc_ddp_bucket_bytes(self._h, b)
                for b in range(_lib.cnnc_ddp_num_buckets(self._h))]

    def comm_seconds(self):
        return _lib.cnnc_ddp_comm_seconds(self._h)
