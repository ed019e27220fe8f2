"""The binding itself: error class, struct layouts, lifetimes, fork, threads,
grad mode per thread, coexistence with torch, library discovery."""
import ctypes
import gc
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
import torch

import cnnc
from cnnc import _lib
from helpers import assert_close, randn, rng

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON_DIR = os.path.join(REPO, "python")
LIBRARY = _lib.lib._name


def run_python(code, env_extra=None, timeout=120):
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=timeout, cwd="/")


# --- errors --------------------------------------------------------------------------------

def test_error_class():
    assert issubclass(cnnc.Error, RuntimeError) and issubclass(cnnc.Error, ValueError)
    with pytest.raises(cnnc.Error) as e:
        cnnc.zeros(2) @ cnnc.zeros(3)
    msg = str(e.value)
    assert msg and msg == _lib.last_error()
    assert e.value.status == "CNNC_ERR_INVALID_ARGUMENT"
    with pytest.raises(RuntimeError):
        cnnc.zeros(2, 3).reshape(7)
    with pytest.raises(ValueError):
        cnnc.zeros(2, 3).reshape(7)


def test_error_messages_are_per_thread():
    """Each thread reads its own last error, even when another thread failed since."""
    seen = {}
    barrier = threading.Barrier(2)
    a, b = cnnc.zeros(2, 3), cnnc.zeros(2, 3)  # kept alive: no release in between

    def fail(name, fn):
        try:
            if name == "b":
                barrier.wait()
            fn()
        except cnnc.Error as e:
            seen[name] = str(e)
        if name == "a":
            barrier.wait()
        barrier.wait()
        seen[name + "_after"] = _lib.last_error()
    gc.collect()
    gc.disable()
    try:
        threads = [threading.Thread(target=fail, args=("a", lambda: a.transpose(0, 5))),
                   threading.Thread(target=fail, args=("b", lambda: b.reshape(7)))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        gc.enable()
    assert seen["a"] and seen["b"] and seen["a"] != seen["b"]
    assert seen["a_after"] == seen["a"] and seen["b_after"] == seen["b"]


# --- struct layouts match the C header ------------------------------------------------------

C_LAYOUT = r"""
#include <cnnc.h>
#include <stdio.h>
#include <stddef.h>
#define F(T, f) printf(#T "." #f " %zu %zu\n", offsetof(T, f), sizeof(((T *)0)->f))
int main(void) {
    printf("cnnc_value %zu\n", sizeof(cnnc_value));
    F(cnnc_value, kind); F(cnnc_value, n); F(cnnc_value, ints); F(cnnc_value, f); F(cnnc_value, s);
    printf("cnnc_linear_options %zu\n", sizeof(cnnc_linear_options));
    F(cnnc_linear_options, bias);
    printf("cnnc_relu_options %zu\n", sizeof(cnnc_relu_options));
    F(cnnc_relu_options, inplace);
    printf("cnnc_flatten_options %zu\n", sizeof(cnnc_flatten_options));
    F(cnnc_flatten_options, start_dim); F(cnnc_flatten_options, end_dim);
    printf("cnnc_allocator %zu\n", sizeof(cnnc_allocator));
    printf("CNNC_MAX_DIMS %d\n", CNNC_MAX_DIMS);
    return 0;
}
"""
STRUCTS = {"cnnc_value": _lib.Value, "cnnc_linear_options": _lib.LinearOptions,
           "cnnc_relu_options": _lib.ReluOptions, "cnnc_flatten_options": _lib.FlattenOptions,
           "cnnc_allocator": _lib.Allocator}


def test_struct_layouts_match_header(tmp_path):
    src = tmp_path / "layout.c"
    src.write_text(C_LAYOUT)
    exe = tmp_path / "layout"
    cc = os.environ.get("CC", "cc")
    subprocess.run([cc, "-std=c11", "-I", os.path.join(REPO, "include"), str(src), "-o", str(exe)],
                   check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    for line in out.strip().splitlines():
        parts = line.split()
        if parts[0] == "CNNC_MAX_DIMS":
            assert int(parts[1]) == _lib.MAX_DIMS
        elif "." in parts[0]:
            struct, field = parts[0].split(".")
            desc = getattr(STRUCTS[struct], field)
            assert (desc.offset, desc.size) == (int(parts[1]), int(parts[2])), line
        else:
            assert ctypes.sizeof(STRUCTS[parts[0]]) == int(parts[1]), line


# --- lifetimes ------------------------------------------------------------------------------------

def test_wrappers_keep_their_reference():
    m = cnnc.nn.Sequential(cnnc.nn.Linear(3, 2), cnnc.nn.ReLU())
    w = m[0].weight
    child = m[0]
    expected = w.numpy().copy()
    del m
    gc.collect()
    np.testing.assert_array_equal(w.numpy(), expected)
    np.testing.assert_array_equal(child.weight.numpy(), expected)
    assert child(cnnc.ones(1, 3)).shape == (1, 2)
    lin = cnnc.nn.Linear(2, 2)
    seq = cnnc.nn.Sequential(lin)
    del lin
    gc.collect()
    assert seq(cnnc.ones(2)).shape == (2,)


def test_grad_wrapper_outlives_tensor():
    x = cnnc.ones(3, requires_grad=True)
    (x * 2).sum().backward()
    g = x.grad
    del x
    gc.collect()
    np.testing.assert_array_equal(g.numpy(), [2.0, 2.0, 2.0])


def test_many_objects_churn():
    for i in range(2000):
        x = cnnc.randn(8, 8, requires_grad=True)
        y = (x @ x).relu().sum()
        y.backward()
        assert x.grad is not None
        repr(x)
        cnnc.nn.Linear(4, 4).state_dict()


def test_interpreter_shutdown_is_clean():
    r = run_python("""
        import cnnc, numpy as np
        keep = [cnnc.tensor(np.ones((3, 3), np.float32), requires_grad=True) for _ in range(10)]
        net = cnnc.nn.Sequential(cnnc.nn.Linear(3, 3), cnnc.nn.ReLU())
        out = net(keep[0]).sum()
        out.backward()
        grads = [p.grad for p in net.parameters()]
        class Holder:
            pass
        h = Holder(); h.t = keep[1]; h.self = h   # a cycle collected at shutdown
        print("done")
    """, {"CNNC_LIBRARY": LIBRARY})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "done"
    assert "Exception ignored" not in r.stderr and "Error" not in r.stderr, r.stderr


def test_library_discovery():
    r = run_python("import cnnc; print(cnnc._lib.lib._name)", {"CNNC_LIBRARY": LIBRARY})
    assert r.returncode == 0 and r.stdout.strip() == LIBRARY, r.stderr
    r = run_python("import cnnc", {"CNNC_LIBRARY": "/nonexistent/libcnnc.so"})
    assert r.returncode != 0 and "libcnnc.so" in r.stderr


# --- fork and threads ----------------------------------------------------------------------------

def _mt_work(seed):
    """Multithreaded ops (big matmul, elementwise, reductions) + backward."""
    r = rng(seed)
    a = cnnc.tensor(randn(r, 256, 192), requires_grad=True)
    b = cnnc.tensor(randn(r, 192, 160), requires_grad=True)
    y = ((a @ b).relu() * 0.5 + 1).mean()
    y.backward()
    return y.item(), a.grad.numpy(), b.grad.numpy()


def test_fork_after_multithreaded_work():
    cnnc.set_num_threads(4)
    try:
        expected = _mt_work(1)  # the pool is running in the parent
        rd, wr = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: no pytest machinery, just report through the pipe
            status = 1
            try:
                os.close(rd)
                got = _mt_work(1)
                ok = (got[0] == expected[0] and np.array_equal(got[1], expected[1])
                      and np.array_equal(got[2], expected[2]))
                cnnc.set_num_threads(3)
                got3 = _mt_work(1)
                ok = ok and np.array_equal(got3[1], expected[1])
                os.write(wr, b"ok" if ok else b"mismatch")
                status = 0
            except BaseException as e:  # noqa: BLE001
                os.write(wr, ("error: %r" % (e,)).encode())
            finally:
                os._exit(status)
        os.close(wr)
        msg = b""
        while True:
            chunk = os.read(rd, 4096)
            if not chunk:
                break
            msg += chunk
        os.close(rd)
        _, status = os.waitpid(pid, 0)
        assert msg == b"ok" and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, msg
        again = _mt_work(1)  # and the parent's pool still works
        assert again[0] == expected[0] and np.array_equal(again[1], expected[1])
    finally:
        cnnc.set_num_threads(os.cpu_count() or 1)


def test_fork_many_children():
    """Every fork restarts the pool in the child: 40 children each check a
    multithreaded matmul (catches races in the pool's restart)."""
    cnnc.set_num_threads(4)
    try:
        a = cnnc.tensor(randn(rng(5), 300, 300))
        ref = (a @ a).numpy()
        bad = []
        for i in range(40):
            pid = os.fork()
            if pid == 0:
                ok = False
                try:
                    ok = np.array_equal((a @ a).numpy(), ref)
                finally:
                    os._exit(0 if ok else 3)
            _, st = os.waitpid(pid, 0)
            if not (os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0):
                bad.append((i, st))
        assert not bad, "children with a wrong result or a crash: %s" % bad
        np.testing.assert_array_equal((a @ a).numpy(), ref)
    finally:
        cnnc.set_num_threads(os.cpu_count() or 1)


def test_fork_in_subprocess_with_torch():
    """A fresh interpreter: torch and cnnc both imported, cnnc multithreaded before
    and after fork, in parent and child."""
    r = run_python("""
        import os, sys
        import torch, numpy as np
        import cnnc
        cnnc.set_num_threads(4)
        a = cnnc.randn(300, 300)
        ref = (a @ a).numpy()
        t = torch.tensor(a.numpy())
        np.testing.assert_allclose(ref, (t @ t).numpy(), rtol=1e-3, atol=1e-3)
        pid = os.fork()
        if pid == 0:
            ok = np.array_equal((a @ a).numpy(), ref)
            b = cnnc.randn(100, 100, requires_grad=True)
            (b @ b).sum().backward()
            os._exit(0 if ok and b.grad is not None else 3)
        _, st = os.waitpid(pid, 0)
        print(os.WEXITSTATUS(st), np.array_equal((a @ a).numpy(), ref))
    """, {"CNNC_LIBRARY": LIBRARY})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", "True"], (r.stdout, r.stderr)


def test_python_threads_run_concurrently_and_correctly():
    expected = {s: _mt_work(s) for s in range(4)}
    results, errors = {}, []

    def work(s):
        try:
            for _ in range(3):
                results[s] = _mt_work(s)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)
    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for s in range(4):
        assert results[s][0] == expected[s][0]
        np.testing.assert_array_equal(results[s][1], expected[s][1])
        np.testing.assert_array_equal(results[s][2], expected[s][2])


def test_no_grad_is_per_thread():
    seen = {}
    inside = threading.Event()
    done = threading.Event()

    def other():
        inside.wait()
        seen["other_enabled"] = cnnc.is_grad_enabled()
        seen["other_requires"] = (cnnc.ones(2, requires_grad=True) * 2).requires_grad
        done.set()
    t = threading.Thread(target=other)
    t.start()
    with cnnc.no_grad():
        inside.set()
        done.wait()
        seen["main_requires"] = (cnnc.ones(2, requires_grad=True) * 2).requires_grad
    t.join()
    assert seen == {"other_enabled": True, "other_requires": True, "main_requires": False}


def test_num_threads():
    old = cnnc.get_num_threads()
    try:
        cnnc.set_num_threads(3)
        assert cnnc.get_num_threads() == 3
        with pytest.raises(cnnc.Error):
            cnnc.set_num_threads(0)
        assert cnnc.get_num_threads() == 3
    finally:
        cnnc.set_num_threads(old)
    assert old >= 1


@pytest.mark.parametrize("threads", [1, 2, 5])
def test_results_do_not_depend_on_thread_count(threads):
    old = cnnc.get_num_threads()
    try:
        cnnc.set_num_threads(1)
        ref = _mt_work(3)
        cnnc.set_num_threads(threads)
        got = _mt_work(3)
    finally:
        cnnc.set_num_threads(old)
    assert got[0] == ref[0]
    np.testing.assert_array_equal(got[1], ref[1])
    np.testing.assert_array_equal(got[2], ref[2])


# --- coexistence with torch ------------------------------------------------------------------------

def test_coexists_with_torch_in_both_import_orders():
    for order in ("import torch, cnnc", "import cnnc, torch"):
        r = run_python(order + """
import numpy as np
x = np.random.RandomState(0).standard_normal((64, 64)).astype(np.float32)
c = (cnnc.tensor(x) @ cnnc.tensor(x)).relu().numpy()
t = (torch.tensor(x) @ torch.tensor(x)).relu().numpy()
np.testing.assert_allclose(c, t, rtol=1e-4, atol=1e-4)
print("ok")
""", {"CNNC_LIBRARY": LIBRARY})
        assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_torch_and_cnnc_interleaved():
    x = randn(rng(0), 32, 32)
    ct, tt = cnnc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    for _ in range(3):
        (ct @ ct).sum().backward()
        (tt @ tt).sum().backward()
    assert_close(ct.grad, tt.grad, 1e-4, 1e-3)


# --- small binding behaviours ---------------------------------------------------------------------

def test_numpy_array_protocol_and_tolist():
    t = cnnc.tensor([[1.0, 2.0]])
    np.testing.assert_array_equal(np.asarray(t), [[1.0, 2.0]])
    assert t.tolist() == [[1.0, 2.0]]


def test_shape_dtype_properties():
    for arr in (np.zeros((), np.float32), np.zeros((0, 3), np.int64), np.zeros((2, 1, 4))):
        t = cnnc.tensor(arr)
        assert t.shape == t.numpy().shape == t.size() and isinstance(t.shape, tuple)
        assert t.ndim == t.dim() == arr.ndim
        assert t.dtype in ("float32", "int64")
    t = cnnc.zeros(2, 3)
    assert t.size(1) == 3 and t.size(-2) == 2
    with pytest.raises(cnnc.Error):
        t.size(2)


def test_unsupported_inputs():
    with pytest.raises(TypeError):
        cnnc.tensor(np.array(["a"]))
    with pytest.raises(TypeError):
        cnnc.tensor(np.array([True]))
    with pytest.raises(TypeError):
        cnnc.zeros(2, dtype="float16")
    with pytest.raises(TypeError):
        cnnc.tensor([1.0]) + "x"
    with pytest.raises(TypeError):
        cnnc.cat([np.zeros(2)])


def test_version_string():
    with open(os.path.join(REPO, "include", "cnnc.h")) as f:
        header = f.read()
    want = header.split('#define CNNC_VERSION_STRING "')[1].split('"')[0]
    assert cnnc.__version__ == want


# --- the helpers themselves can fail -----------------------------------------------------------

def test_helpers_detect_mismatches():
    from helpers import check_error, check_module, check_op
    x = randn(rng(0), 3)
    y = randn(rng(1), 3)
    with pytest.raises(AssertionError):  # forward values
        check_op(lambda a, b: a + b, lambda a, b: a - b, [x, y])
    with pytest.raises(AssertionError):  # gradients only
        check_op(lambda a: a * a, lambda a: a * a.detach(), [x])
    with pytest.raises(AssertionError):  # shapes
        check_op(lambda a: a.reshape(3, 1), lambda a: a.reshape(1, 3), [x])
    with pytest.raises(AssertionError):  # dtype
        check_op(lambda a: a, lambda a: a.double(), [x], requires_grad=False)
    with pytest.raises(AssertionError):  # requires_grad of the output
        check_op(lambda a: a.detach(), lambda a: a * 1, [x])
    with pytest.raises(BaseException):  # cnnc does not raise
        check_error(lambda: cnnc.zeros(2), lambda: torch.zeros(2) @ torch.zeros(3))
    with pytest.raises(BaseException):  # torch does not raise
        check_error(lambda: cnnc.zeros(2) @ cnnc.zeros(3), lambda: torch.zeros(2))
    with pytest.raises(AssertionError):  # fragment missing
        check_error(lambda: cnnc.zeros(2) @ cnnc.zeros(3), lambda: torch.zeros(2) @ torch.zeros(3),
                    "no such words")
    with pytest.raises(AssertionError):  # different weights (state not copied)
        check_module(cnnc.nn.Linear(3, 2), torch.nn.Linear(3, 2), randn(rng(2), 4, 3),
                     load_state=False)
    with pytest.raises(AssertionError):  # different state_dict keys
        check_module(cnnc.nn.Sequential(cnnc.nn.Linear(3, 2)), torch.nn.Linear(3, 2),
                     randn(rng(2), 4, 3), load_state=False)
