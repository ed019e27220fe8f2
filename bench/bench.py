"""cnnc against PyTorch, side by side in one run.

    make bench        # = CNNC_LIBRARY=build/libcnnc.so /usr/bin/python3 bench/bench.py
    bench.py [--quick] [--filter SUBSTR] [--threads 1,2] [--repeats N] [--cpu-clock]
             [--system-malloc]

Every row runs the same op on the same inputs in cnnc (through the Python binding,
python/cnnc) and in PyTorch. Before timing, the row's outputs (and, for fwd+bwd,
every gradient) are compared with allclose; a row that disagrees is marked. Then,
after warm-up, each repeat times cnnc and torch back to back (alternating which goes
first), and the table shows the median per call. speedup = torch ms / cnnc ms, so
> 1 means cnnc is faster. The last line is the geometric mean of the speedups.

To add an op family, write bench/cases_<family>.py with a list CASES of Case rows
(see benchlib.py): the same function usually serves both libraries, since the
binding is torch-like (`lib` is `cnnc` or `torch`).
Benchmarks are not tests: nothing here asserts a time.
"""
import argparse
import math
import os
import platform
import re
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from benchlib import cnnc, torch  # noqa: E402  (benchlib sets up the import paths)
from torch_threads import blas_paths, set_torch_threads  # noqa: E402


def load_cases():
    """Every bench/cases_*.py's CASES, cases_core first, then by file name."""
    import importlib
    names = sorted(f[:-3] for f in os.listdir(HERE)
                   if f.startswith("cases_") and f.endswith(".py"))
    names.sort(key=lambda n: n != "cases_core")
    cases = []
    for name in names:
        cases.extend(importlib.import_module(name).CASES)
    return cases


# ---------------------------------------------------------------------------------
# The two backends, behind one small interface
# ---------------------------------------------------------------------------------

class Backend:
    def __init__(self, name, lib, fn_attr):
        self.name, self.lib, self.fn_attr = name, lib, fn_attr

    def tensor(self, arr, requires_grad):
        if self.lib is torch:
            return torch.tensor(arr, requires_grad=requires_grad)
        return cnnc.tensor(arr, requires_grad=requires_grad)

    @staticmethod
    def to_numpy(t):
        return t.detach().numpy() if isinstance(t, torch.Tensor) else t.numpy()

    def no_grad(self):
        return self.lib.no_grad()


TORCH = Backend("torch", torch, "torch_fn")
CNNC = Backend("cnnc", cnnc, "cnnc_fn")


class Prepared:
    """A case made concrete for one backend and one variant: inputs, module,
    upstream gradient, and a run() that does the timed work."""

    def __init__(self, case, backend, arrays, state, backward):
        self.backend, self.backward = backend, backward
        grad_idx = range(len(arrays)) if case.grad_inputs is None else case.grad_inputs
        self.inputs = [backend.tensor(a, backward and i in grad_idx)
                       for i, a in enumerate(arrays)]
        self.grad_inputs = [self.inputs[i] for i in grad_idx] if backward else []
        self.model = None
        if case.module is not None:
            if backend.lib is torch:
                torch.manual_seed(0)
            self.model = case.module(backend.lib)
            if backend.lib is not torch:
                self.model.load_state_dict(state)
        fn = getattr(case, backend.fn_attr)
        args = ([self.model] if self.model is not None else []) + self.inputs
        self.call = lambda: fn(*args)
        named = list(self.model.named_parameters()) if self.model else []
        self.params = [p for _, p in named]
        # What results() returns, in order: for messages.
        self.result_names = (["output"] + ["input %d grad" % i for i in grad_idx if backward]
                             + ["%s grad" % n for n, _ in named])
        self.upstream = None
        if backward:
            with backend.no_grad():
                out = self.call()
            shape = tuple(out.shape)
            if shape and math.prod(shape) > 1:
                rng = np.random.default_rng(1)
                self.upstream = backend.tensor(rng.standard_normal(shape, dtype=np.float32),
                                               False)

    def clear_grads(self):
        for t in self.grad_inputs + self.params:
            t.grad = None

    def run(self):
        """The timed work: forward, or forward + backward. Returns the output."""
        if not self.backward:
            with self.backend.no_grad():
                return self.call()
        out = self.call()
        if self.upstream is None:
            out.backward()
        else:
            out.backward(self.upstream)
        return out

    def results(self):
        """Output and gradients as numpy arrays, from a fresh run."""
        self.clear_grads()
        out = [Backend.to_numpy(self.run())]
        for t in self.grad_inputs + self.params:
            g = t.grad
            out.append(None if g is None else Backend.to_numpy(g))
        return out


def torch_state(case):
    if case.module is None:
        return None
    torch.manual_seed(0)
    model = case.module(torch)
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def compare(case, names, ours, ref):
    """'' when every array agrees, else a short description of the first mismatch."""
    if len(ours) != len(ref):
        return "%d results vs torch's %d" % (len(ours), len(ref))
    for name, a, b in zip(names, ours, ref):
        if a is None or b is None:
            if a is not b:
                return "%s: %s" % (name, "missing" if a is None else "unexpected")
            continue
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            return "%s: shape %s vs torch %s" % (name, a.shape, b.shape)
        if case.values and not np.allclose(a, b, rtol=case.rtol, atol=case.atol):
            err = np.max(np.abs(a.astype(np.float64) - b))
            return "%s: max abs diff %.3g" % (name, err)
    return ""


# ---------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------

# The clock of a sample: wall time, or with --cpu-clock at 1 thread the calling
# thread's CPU time (both libraries then compute on the calling thread only), which
# leaves out the time a loaded machine's scheduler gives to other processes.
CLOCK = [time.perf_counter]


def time_once(prep, inner):
    """Seconds per call over `inner` calls. With backward, the gradients are set to
    None before each call, as a training step's zero_grad(set_to_none=True) does."""
    run, clear = prep.run, prep.clear_grads
    clock = CLOCK[0]
    t0 = clock()
    if prep.backward:
        for _ in range(inner):
            clear()
            run()
    else:
        for _ in range(inner):
            run()
    return (clock() - t0) / inner


# Pauses before a sample, 1 thread and more. OpenBLAS's worker threads (torch's BLAS)
# spin for 2^28 cycles (about 0.1 s) after each call before they sleep; with 0.01 s on
# 2 cores, a cnnc sample right after a torch one ran with a core taken (MobileNetV2
# inference at 2 threads: 95-106 ms, against 41-43 ms after 0.2 s).
SETTLE_S = (0.01, 0.2)
WARM_S = 0.05


def settled(fn, *args):
    """Runs a timed sample after a pause long enough for the other library's idle
    threads to stop spinning (OpenBLAS, libgomp and cnnc's pool all spin before
    sleeping); on 2 cores a spinning thread would otherwise steal one from the
    sample. Both libraries get the same pause. With threads, untimed samples for
    WARM_S first wake the library's own threads and the virtual CPU (after 0.2 s idle
    this one ran either library's calls several times slower for some 20 ms; one
    LeNet-5 step of 3 ms did not cover it), so that the timed one measures calls in a
    loop, as before the pause."""
    threaded = torch.get_num_threads() > 1
    time.sleep(SETTLE_S[threaded])
    if threaded:
        t0 = time.perf_counter()
        while True:
            fn(*args)
            if time.perf_counter() - t0 >= WARM_S:
                break
    return fn(*args)


def bench_pair(cn, th, repeats, warmup, min_sample_s):
    """Median seconds per call for cnnc and torch, timed alternately."""
    for _ in range(warmup):
        time_once(cn, 1)
        time_once(th, 1)
    # Calls per sample so that short ops are not dominated by timer noise; both
    # libraries use the same count.
    one = max(min(time_once(cn, 1), time_once(th, 1)), 1e-7)
    inner = max(1, min(1000, int(math.ceil(min_sample_s / one))))
    tc, tt = [], []
    for r in range(repeats):
        if r % 2 == 0:
            tc.append(settled(time_once, cn, inner))
            tt.append(settled(time_once, th, inner))
        else:
            tt.append(settled(time_once, th, inner))
            tc.append(settled(time_once, cn, inner))
    return statistics.median(tc), statistics.median(tt)


def torch_blas():
    """Which BLAS torch's matmul runs on (Debian's torch uses whatever libblas.so.3
    points to; the reference netlib BLAS is much slower than OpenBLAS or MKL)."""
    m = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
    found = ", ".join(os.path.realpath(p) for p in blas_paths()) or "none found in /proc/self/maps"
    if "/blas/libblas.so" in found:
        found += " (netlib reference BLAS)"
    return "%s, BLAS_INFO=%s" % (found, m.group(1)) if m else found


def set_threads(n):
    """n threads for both libraries (torch's BLAS included: torch_threads.py)."""
    set_torch_threads(n)
    cnnc.set_num_threads(n)


# glibc's malloc returns freed large blocks to the system and takes fresh zeroed pages
# for the next one; on a virtual machine whose host reclaims guest memory, the first
# touch of such a page can cost more than the op that writes it, which then times the
# VM, not the library (PyTorch's default CPU allocator pays it on every call). Unless
# --system-malloc, the bench re-runs itself with glibc keeping freed memory, the same
# setting for both libraries.
KEEP_FREED = "glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=4294967296"


def reexec_keeping_freed_memory(args):
    if args.system_malloc or os.environ.get("CNNC_BENCH_REEXEC") == "1":
        return
    env = dict(os.environ, CNNC_BENCH_REEXEC="1")
    env["GLIBC_TUNABLES"] = ":".join(t for t in (env.get("GLIBC_TUNABLES"), KEEP_FREED) if t)
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def probe(quick):
    """The machine's limits from build/probe (bench/probe.c): {name: value}, or {}."""
    import subprocess
    exe = os.path.join(os.path.dirname(os.environ["CNNC_LIBRARY"]), "probe")
    try:
        out = subprocess.run([exe] + (["quick"] if quick else []), capture_output=True,
                             text=True, timeout=120, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    vals = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                vals[parts[0]] = float(parts[1])
            except ValueError:
                pass
    return vals


# Where a row's data lives, by the bytes it moves: L2 up to 1 MiB, the last-level
# cache up to 16 MiB (a share of this machine's), memory beyond.
L2_BYTES, L3_BYTES = 1 << 20, 16 << 20


def rate(case, bwd, threads, seconds, limits):
    """'123 GF/s  61%' (of the probed fp32 peak) or '35 GB/s  88%' (of the probed copy
    bandwidth of the level the row's data lives in), or '' without a figure."""
    t = min(max(threads, 1), 2)
    flops = case.flops_bwd if bwd else case.flops
    if flops:
        peak = limits.get("peak_gflops_%dt" % t)
        r = flops / seconds * 1e-9
        return "%6.0f GF/s %3.0f%%" % (r, 100 * r / peak) if peak else "%6.0f GF/s" % r
    nb = case.bytes_bwd if bwd else case.bytes
    if nb:
        level = "l2" if nb <= L2_BYTES else ("l3" if nb <= L3_BYTES else "dram")
        bw = limits.get("bw_%s_gbs_%dt" % (level, t))
        r = nb / seconds * 1e-9
        return "%6.1f GB/s %3.0f%%" % (r, 100 * r / bw) if bw else "%6.1f GB/s" % r
    return ""


class ModelSide:
    """bench_pair's view of one library's model row: run() is the timed work."""

    def __init__(self, fn):
        self.run, self.backward = fn, False

    def clear_grads(self):
        pass


# Largest eval-output difference (relative to the largest |torch output|) a model row
# accepts without a mark: fp32 rounding through a deep net, and cnnc's inference
# folding BatchNorm into the convolutions, stay well below it.
MODEL_DIFF = 1e-3
# Timed repeats per model row (each is one call; --repeats overrides).
MODEL_REPEATS = {"quick": 3, "full": 5}


def model_table(quick, threads, repeats, cpu_clock):
    """Whole networks (bench/models.py): inference through the model runtime and a
    training step, both libraries alternating, medians. Returns the speedups."""
    import models
    print("\nmodels (%s sizes, median of %d): inference = eval, no grad, the exported model "
          "loaded with cnnc.load; train step = forward, cross-entropy, backward, SGD; "
          "eval diff = max |cnnc - torch| / max |torch| of the eval outputs"
          % ("--models quick" if quick else "full", repeats))
    header = "%-16s %-18s %-12s %3s %10s %10s %8s %10s" % (
        "model", "input", "row", "thr", "torch ms", "cnnc ms", "speedup", "eval diff")
    print(header)
    print("-" * len(header))
    rng = np.random.default_rng(0)
    out = []
    for spec in models.model_specs(quick):
        name, shape = spec[0], "x".join(str(d) for d in spec[2])
        try:
            cn, th, diff = models.build(spec, rng)
        except (cnnc.Error, TypeError, ValueError) as e:
            print("%-16s %-18s ERROR %s" % (name, shape, e), flush=True)
            continue
        note = "  <- eval outputs differ" if not diff <= MODEL_DIFF else ""
        for row, cfn, tfn in (("inference", cn.infer, th.infer),
                              ("train step", cn.train_step, th.train_step)):
            if row not in spec[5]:
                continue
            for n in threads:
                set_threads(n)
                CLOCK[0] = time.thread_time if cpu_clock and n == 1 else time.perf_counter
                tc, tt = bench_pair(ModelSide(cfn), ModelSide(tfn), repeats, 1, 0.0)
                out.append(tt / tc)
                print("%-16s %-18s %-12s %3d %10.2f %10.2f %8.2f %10s%s"
                      % (name, shape, row, n, tt * 1e3, tc * 1e3, tt / tc,
                         "%.1e" % diff if row == "inference" else "", note), flush=True)
    print("-" * len(header))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats and shorter samples")
    ap.add_argument("--filter", default="", metavar="SUBSTR",
                    help="only rows whose op name contains SUBSTR")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (1,2)")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats per row")
    ap.add_argument("--models", choices=("quick", "full", "none"), default=None,
                    help="whole-network rows (bench/models.py): the full sizes (batch 8 at "
                         "224x224 for ResNet-18 / MobileNetV2; the default), quick ones "
                         "(batch 2 at 112x112; the default with --quick), or none")
    ap.add_argument("--models-only", action="store_true", help="only the model rows")
    ap.add_argument("--cpu-clock", action="store_true",
                    help="time 1-thread rows by the calling thread's CPU time (loaded machines)")
    ap.add_argument("--system-malloc", action="store_true",
                    help="keep glibc's default of returning freed memory (see KEEP_FREED)")
    args = ap.parse_args()
    reexec_keeping_freed_memory(args)
    repeats = args.repeats or (3 if args.quick else 9)
    warmup = 1 if args.quick else 3
    min_sample_s = 0.005 if args.quick else 0.02
    threads = [int(t) for t in args.threads.split(",") if t.strip()]

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print("cnnc %s vs torch %s | %s, %d CPUs | median of %d repeats"
          % (cnnc.__version__, torch.__version__, cpu, os.cpu_count() or 0, repeats))
    print("torch's BLAS: %s" % torch_blas())
    print("threads: a row's count for cnnc, torch and torch's OpenBLAS (openblas_set_num_threads; "
          "torch.set_num_threads alone left OpenBLAS on every CPU)")
    print("allocator: %s" % ("glibc default (freed memory returned)" if args.system_malloc
                              else "glibc keeping freed memory, for both (--system-malloc: not)"))
    limits = probe(args.quick)
    if limits:
        print("machine (bench/probe.c): fp32 FMA peak %.0f GFLOP/s at 1 thread, %.0f at 2; "
              "copy bandwidth L2 %.0f / %.0f GB/s, L3 %.0f / %.0f GB/s, DRAM %.0f / %.0f GB/s "
              "(1 / 2 threads)"
              % tuple(limits.get(k, 0.0) for k in (
                  "peak_gflops_1t", "peak_gflops_2t", "bw_l2_gbs_1t", "bw_l2_gbs_2t",
                  "bw_l3_gbs_1t", "bw_l3_gbs_2t", "bw_dram_gbs_1t", "bw_dram_gbs_2t")))
    print("speedup = torch ms / cnnc ms (> 1: cnnc faster); cnnc rate: GFLOP/s and share of "
          "peak, or GB/s and share of bandwidth\n")

    rows = []
    for case in load_cases():
        variants = ([False] if case.forward else []) + ([True] if case.backward else [])
        for bwd in variants:
            label = case.name + (" fwd+bwd" if bwd else " fwd")
            if args.filter and args.filter not in label:
                continue
            rows.append((case, bwd, label))
    if args.models_only:
        rows = []
    elif not rows:
        sys.exit("bench: no row matches --filter %r" % args.filter)

    header = "%-24s %-36s %3s %10s %10s %8s  %s" % ("op", "shape", "thr", "torch ms", "cnnc ms",
                                                     "speedup", "cnnc rate")
    print(header)
    print("-" * len(header))
    speedups, mismatches = [], 0
    for case, bwd, label in rows:
        arrays = case.make_inputs(np.random.default_rng(0))
        state = torch_state(case)
        th = Prepared(case, TORCH, arrays, state, bwd)
        try:
            cn = Prepared(case, CNNC, arrays, state, bwd)
            problem = compare(case, th.result_names, cn.results(), th.results())
        except cnnc.Error as e:
            mismatches += 1
            print("%-24s %-36s %3s %10s %10s %8s  <- ERROR %s"
                  % (label, case.shape, "-", "-", "-", "-", e), flush=True)
            continue
        for n in threads:
            set_threads(n)
            CLOCK[0] = time.thread_time if args.cpu_clock and n == 1 else time.perf_counter
            tc, tt = bench_pair(cn, th, repeats, warmup, min_sample_s)
            sp = tt / tc
            speedups.append(sp)
            mark = "  <- MISMATCH %s" % problem if problem else ""
            print("%-24s %-36s %3d %10.3f %10.3f %8.2f  %s%s"
                  % (label, case.shape, n, tt * 1e3, tc * 1e3, sp,
                     rate(case, bwd, n, tc, limits), mark), flush=True)
        if problem:
            mismatches += 1
    print("-" * len(header))
    models = args.models or ("quick" if args.quick else "full")
    if models != "none" and (not args.filter or args.models_only):
        speedups += model_table(models == "quick", threads, args.repeats or MODEL_REPEATS[models],
                                args.cpu_clock)
    if speedups:
        geo = math.exp(sum(math.log(s) for s in speedups) / len(speedups))
        print("geometric mean speedup over %d rows: %.2f" % (len(speedups), geo))
    if mismatches:
        print("%d row(s) disagree with torch (marked above)" % mismatches)


if __name__ == "__main__":
    main()
