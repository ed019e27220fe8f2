"""The binding itself: error class, struct layouts, lifetimes, fork, threads,
grad mode per thread, coexistence with torch, library discovery."""
import ctypes
import gc
import importlib
import os
import pkgutil
import re
import subprocess
import sys
import textwrap
import threading
import warnings

import numpy as np
import pytest
import torch

import cnnc
from cnnc import _args, _lib
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


# --- every ctypes struct of the binding matches the C layout ------------------------------
#
# The structs are found, not listed: every ctypes Structure/Union defined in the cnnc
# package (all its modules imported). Each names the C types it mirrors (_c_types_);
# the header gives each type's fields (names, order, declared types) and a C program
# generated here gives their offsets, sizes and alignments. A struct without
# _c_types_, a missing, extra, reordered or mistyped field fails.

HEADERS = [os.path.join(REPO, "include", "cnnc.h")] + sorted(
    os.path.join(REPO, "include", "cnnc", f) for f in os.listdir(os.path.join(REPO, "include", "cnnc"))
    if f.endswith(".h"))


def binding_structs():
    """{qualified name: class} of every ctypes struct/union defined in cnnc. A module
    that needs a cnnc module not in this tree yet is passed over with a warning; any
    other import error fails."""
    for mod in pkgutil.walk_packages(cnnc.__path__, "cnnc."):
        try:
            importlib.import_module(mod.name)
        except ModuleNotFoundError as e:
            if not (e.name or "").startswith("cnnc."):
                raise
            warnings.warn("%s not checked: it imports %s, which is missing" % (mod.name, e.name))
    found, todo = {}, [ctypes.Structure, ctypes.Union]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.split(".")[0] == "cnnc" and "_fields_" in vars(sub):
                found[sub.__module__ + "." + sub.__qualname__] = sub
    return found


def _strip_comments(text):
    return re.sub(r"//[^\n]*", "", re.sub(r"/\*.*?\*/", "", text, flags=re.S))


def _declarators(decl):
    """[(name, ctype text, array length text or None)] of one member declaration."""
    decl = " ".join(decl.split())
    fn = re.fullmatch(r"(.+?)\(\s*\*\s*(\w+)\s*\)\s*\(.*\)", decl)
    if fn:  # a function pointer
        return [(fn.group(2), "fnptr", None)]
    m = re.fullmatch(r"((?:const\s+|unsigned\s+|signed\s+|struct\s+)*\w+)\s*(.*)", decl)
    base, rest = m.group(1), m.group(2)
    out = []
    for d in rest.split(","):
        d = re.fullmatch(r"\s*((?:\*\s*(?:const\s+)?)*)(\w+)\s*(?:\[([^\]]+)\])?\s*", d)
        assert d, "cannot read the member declaration %r" % decl
        out.append((d.group(2), (base + " " + "*" * d.group(1).count("*")).strip(), d.group(3)))
    return out


def header_types():
    """({struct name: [(field, ctype, array)]}, {enum names}) from the public headers;
    `typedef A B;` makes B an alias of the struct A."""
    text = _strip_comments("".join(open(h).read() for h in HEADERS))
    structs, enums = {}, set(re.findall(r"typedef\s+enum\s+\w*\s*\{[^}]*\}\s*(\w+)\s*;", text))
    for name, body, tail in re.findall(r"typedef\s+struct\s+(\w*)\s*\{([^{}]*)\}\s*(\w+)\s*;", text):
        structs[tail] = [f for decl in body.split(";") if decl.strip() for f in _declarators(decl)]
    for a, b in re.findall(r"typedef\s+(\w+)\s+(\w+)\s*;", text):
        if a in structs:
            structs[b] = structs[a]
    return structs, enums


SCALARS = {"bool": ctypes.c_bool, "int": ctypes.c_int, "unsigned": ctypes.c_uint,
           "unsigned int": ctypes.c_uint, "int64_t": ctypes.c_int64, "uint64_t": ctypes.c_uint64,
           "int32_t": ctypes.c_int32, "uint32_t": ctypes.c_uint32, "size_t": ctypes.c_size_t,
           "double": ctypes.c_double, "float": ctypes.c_float}


def type_matches(ctext, py, structs_of, enums):
    """Does the ctypes type py declare the C type ctext?"""
    ctext = " ".join(w for w in ctext.split() if w not in ("const", "struct"))
    if ctext == "fnptr":
        return py is ctypes.c_void_p or (isinstance(py, type) and issubclass(py, ctypes._CFuncPtr))
    if ctext.endswith("*"):
        pointee = ctext[:-1].strip()
        if pointee == "char":  # a string
            return py is ctypes.c_char_p
        if py is ctypes.c_void_p:
            return True
        return (isinstance(py, type) and issubclass(py, ctypes._Pointer)
                and (pointee.endswith("*") and py._type_ in (ctypes.c_void_p, ctypes.c_char_p)
                     or type_matches(pointee, py._type_, structs_of, enums)))
    if ctext in enums:
        return py in (ctypes.c_int, ctypes.c_uint)
    if ctext in SCALARS:
        return py is SCALARS[ctext]
    return ctext in structs_of.get(py, ())


def c_layout(tmp_path, ctypes_names, structs):
    """{(type, field): (offset, size, elements)} and {type: (size, align)} from a C program."""
    lines = ["#include <cnnc.h>", "#include <stdalign.h>", "#include <stddef.h>",
             "#include <stdio.h>", "int main(void) {"]
    for t in sorted(ctypes_names):
        lines.append('printf("%s %%zu %%zu\\n", sizeof(%s), alignof(%s));' % (t, t, t))
        for f, _, arr in structs[t]:
            n = "sizeof(((%s *)0)->%s) / sizeof(((%s *)0)->%s[0])" % (t, f, t, f) if arr else "(size_t)1"
            lines.append('printf("%s.%s %%zu %%zu %%zu\\n", offsetof(%s, %s), sizeof(((%s *)0)->%s), %s);'
                         % (t, f, t, f, t, f, n))
    lines += ["return 0;", "}"]
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines) + "\n")
    exe = tmp_path / "layout"
    subprocess.run([os.environ.get("CC", "cc"), "-std=c11", "-I", os.path.join(REPO, "include"),
                    str(src), "-o", str(exe)], check=True)
    fields, sizes = {}, {}
    for line in subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split("\n"):
        if not line:
            continue
        key, *vals = line.split()
        if "." in key:
            fields[tuple(key.split("."))] = tuple(map(int, vals))
        else:
            sizes[key] = tuple(map(int, vals))
    return fields, sizes


def struct_problems(cls, ctype, structs, enums, structs_of, fields, sizes):
    """What differs between the ctypes class and the C type (empty when they agree)."""
    c_fields, py_fields = structs[ctype], list(cls._fields_)
    names = ([f for f, _, _ in c_fields], [f[0] for f in py_fields])
    if names[0] != names[1]:
        return ["fields %s, the header has %s" % (names[1], names[0])]
    problems = []
    if (ctypes.sizeof(cls), ctypes.alignment(cls)) != sizes[ctype]:
        problems.append("size/alignment %s, C %s" % ((ctypes.sizeof(cls), ctypes.alignment(cls)),
                                                     sizes[ctype]))
    for (name, ctext, arr), (_, py) in zip(c_fields, py_fields):
        offset, size, count = fields[(ctype, name)]
        desc = getattr(cls, name)
        if (desc.offset, desc.size) != (offset, size):
            problems.append("%s at %d (%d bytes), C at %d (%d bytes)"
                            % (name, desc.offset, desc.size, offset, size))
        if arr and not (issubclass(py, ctypes.Array) and py._length_ == count):
            problems.append("%s is not an array of %d" % (name, count))
        elif not type_matches(ctext, py._type_ if arr else py, structs_of, enums):
            problems.append("%s is %s, C %s" % (name, py.__name__, ctext))
    return problems


def test_every_struct_matches_the_header(tmp_path):
    classes = binding_structs()
    assert len(classes) >= 40, sorted(classes)  # the binding has about 40; none were lost
    unnamed = [n for n, c in classes.items() if not getattr(c, "_c_types_", ())]
    assert not unnamed, "structs without _c_types_ (the C types they mirror): %s" % unnamed
    structs, enums = header_types()
    unknown = sorted({t for c in classes.values() for t in c._c_types_ if t not in structs})
    assert not unknown, "C types not found in the headers: %s" % unknown
    structs_of = {c: set(c._c_types_) for c in classes.values()}
    fields, sizes = c_layout(tmp_path, {t for c in classes.values() for t in c._c_types_}, structs)
    problems = {"%s as %s" % (n, t): p for n, c in classes.items() for t in c._c_types_
                for p in [struct_problems(c, t, structs, enums, structs_of, fields, sizes)] if p}
    assert not problems, problems


def test_struct_check_catches_mistakes(tmp_path):
    """A reordered, mistyped, missing or extra field, or a wrong array length, fails."""
    structs, enums = header_types()
    fields, sizes = c_layout(tmp_path, {"cnnc_conv_options", "cnnc_ints"}, structs)
    good = [("stride", _args.Ints), ("padding", _args.Ints), ("padding_str", ctypes.c_char_p),
            ("dilation", _args.Ints), ("groups", ctypes.c_int64)]
    variants = {"reordered": [good[1], good[0]] + good[2:],
                "mistyped": good[:4] + [("groups", ctypes.c_double)],
                "narrower": good[:4] + [("groups", ctypes.c_int)],
                "missing": good[:4], "extra": good + [("x", ctypes.c_int)],
                "pointer": good[:2] + [("padding_str", ctypes.c_void_p)] + good[3:]}
    structs_of = {_args.Ints: {"cnnc_ints"}}
    ok = type("Ok", (ctypes.Structure,), {"_fields_": good})
    assert not struct_problems(ok, "cnnc_conv_options", structs, enums, structs_of, fields, sizes)
    for what, fields_ in variants.items():
        bad = type(what, (ctypes.Structure,), {"_fields_": fields_})
        problems = struct_problems(bad, "cnnc_conv_options", structs, enums, structs_of, fields, sizes)
        assert problems, what
    short = type("Short", (ctypes.Structure,), {"_fields_": [("n", ctypes.c_int), ("tuple", ctypes.c_bool),
                                                             ("v", ctypes.c_int64 * 7)]})
    assert struct_problems(short, "cnnc_ints", structs, enums, structs_of, fields, sizes)
    flipped = type("Flipped", (ctypes.Structure,), {"_fields_": [("n", ctypes.c_int), ("tuple", ctypes.c_int),
                                                                 ("v", ctypes.c_int64 * 8)]})
    assert struct_problems(flipped, "cnnc_ints", structs, enums, structs_of, fields, sizes)


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
