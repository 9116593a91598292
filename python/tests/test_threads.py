"""The GIL is released during C calls: threads run C code concurrently on one net, with
the same results as sequential calls, and Ctrl-C cancels a long call cleanly."""
import os
import signal
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import nnprobe

from conftest import HERE, REPO


def run_script(body, timeout=120, stdin=None):
    """Runs a Python script (with the test's library) in a child process, so that a
    deadlock becomes a timeout failure rather than a hung test run."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(REPO, "python"), HERE]))
    env["NNPROBE_LIBRARY"] = os.path.realpath(nnprobe.library_path) \
        if os.path.sep in nnprobe.library_path else nnprobe.library_path
    return subprocess.run([sys.executable, "-c", textwrap.dedent(body)], capture_output=True,
                          text=True, env=env, timeout=timeout)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes (POSIX)")
def test_c_call_blocked_while_python_runs_on_same_net():
    """Thread B is inside nnp_net_save_onnx (blocked in open() on a FIFO, a C call on the
    net) while the main thread runs Python and other C calls on the same net, and finally
    opens the FIFO's reading end that B is waiting for. If the GIL were held during the
    foreign call, the main thread could never run: deadlock (timeout)."""
    r = run_script("""
        import os, tempfile, threading
        import numpy as np
        import nnprobe
        from conftest import mlp, make_problem
        net = mlp()
        x, y = make_problem(8, 3)
        d = tempfile.mkdtemp()
        fifo = os.path.join(d, "net.onnx")
        os.mkfifo(fifo)
        done = []
        b = threading.Thread(target=lambda: (net.save(fifo), done.append(1)))
        b.start()
        # B blocks inside C until we open the FIFO; meanwhile: C calls on the same net
        for _ in range(50):
            z = net.forward(x)
            g = nnprobe.grad_loss(net, x, y)
        assert not done, "save returned before anyone read the FIFO"
        with open(fifo, "rb") as f:
            data = f.read()
        b.join(30)
        assert done and not b.is_alive()
        back = nnprobe.Net.from_bytes(data)
        assert np.array_equal(back(x), z)
        # the other direction: B blocked in nnp_net_load_onnx until Python writes
        fifo2 = os.path.join(d, "in.onnx")
        os.mkfifo(fifo2)
        got = []
        b = threading.Thread(target=lambda: got.append(nnprobe.Net.load(fifo2)))
        b.start()
        with open(fifo2, "wb") as f:
            f.write(data)
        b.join(30)
        assert got and np.array_equal(got[0](x), z)
        print("ok")
    """, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes (POSIX)")
def test_progress_callback_runs_while_other_thread_in_c():
    """Thread A's progress callback (A inside a long attack on the net) feeds thread B,
    which is inside a C call on the same net's model (nnp_net_load_onnx blocked reading a
    FIFO). The FIFO's open completes only when both ends are open, so at that moment B is
    inside C while A runs Python inside its own C call; B returns only after A's callback
    wrote the data. With the GIL held by either foreign call this deadlocks (timeout)."""
    r = run_script("""
        import os, tempfile, threading
        import numpy as np
        import nnprobe
        from conftest import mlp, make_problem
        net = mlp()
        x, y = make_problem(8, 3)
        d = tempfile.mkdtemp()
        net.save(os.path.join(d, "m.onnx"))
        data = open(os.path.join(d, "m.onnx"), "rb").read()
        fifo = os.path.join(d, "fifo.onnx")
        os.mkfifo(fifo)
        got = []
        b = threading.Thread(target=lambda: got.append(nnprobe.Net.load(fifo)))
        b.start()
        seen = []
        def progress(done, total):
            if len(seen) == 10:
                with open(fifo, "wb") as f:   # completes only once B is in fopen()
                    seen.append(("b alive", b.is_alive(), "b returned", bool(got)))
                    f.write(data)
            seen.append(done)
            return False
        res = nnprobe.attack_pgd(net, x, y, steps=100, progress=progress)
        b.join(30)
        assert seen[10] == ("b alive", True, "b returned", False), seen[10]
        assert len(seen) == 101 and got
        assert np.array_equal(got[0](x), net(x))
        print("ok")
    """, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr


def test_concurrent_results_equal_sequential(trained, problem):
    x, y = problem[0][:64], problem[1][:64]
    chunks = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]

    def work(c):
        xc, yc = c
        with nnprobe.Workspace(trained, 16) as ws:
            g = [nnprobe.grad_loss(trained, xc, yc, ws=ws).dx for _ in range(20)][-1]
            z = trained.forward(xc, ws=ws)
        a = nnprobe.attack_pgd(trained, xc, yc, steps=10)
        f = nnprobe.attack_deepfool(trained, xc, yc)
        lo = nnprobe.lipschitz_lower(trained, xc).norms
        return g, z, a.x_adv, f.x_adv, lo

    seq = [work(c) for c in chunks]
    with ThreadPoolExecutor(4) as ex:
        par = list(ex.map(work, chunks * 2))
    for i, res in enumerate(par):
        for a, b in zip(res, seq[i % 4]):
            np.testing.assert_array_equal(a, b)



@pytest.fixture
def sigint_default():
    """Python installs its KeyboardInterrupt handler only when SIGINT was not ignored at
    start-up; a test run started in the background (e.g. `cmd &` in a script) inherits SIGINT
    ignored, where the binding rightly leaves it ignored. These tests are about the
    interactive case, so they set it up themselves and restore it afterwards."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)

def test_sigint_in_process_cancels_with_partial(trained, problem, sigint_default):
    """SIGINT during a call (raised here from the progress callback, i.e. while the C call
    is on the stack) cancels it; Interrupted carries the partial results; the previous
    handler is back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals go to the main thread")
    x, y = problem[2][:8], problem[3][:8]
    calls = []

    def progress(done, total):
        calls.append(done)
        if len(calls) == 5:
            signal.raise_signal(signal.SIGINT)
        return False

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(nnprobe.Interrupted) as ei:
        nnprobe.attack_pgd(trained, x, y, steps=200, batch_size=4, progress=progress)
    assert isinstance(ei.value, KeyboardInterrupt)
    assert signal.getsignal(signal.SIGINT) is before
    assert len(calls) <= 7
    part = ei.value.partial
    assert isinstance(part, nnprobe.AttackResult) and not part.finished.all()


def test_sigint_from_outside_process():
    """Ctrl-C as a user gives it: SIGINT from another process while the child's main
    thread is inside a long attack with no progress callback of its own."""
    script = textwrap.dedent("""
        import sys, threading, os, signal
        import numpy as np
        import nnprobe
        # as at an interactive prompt, even when this test run inherited SIGINT ignored
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from conftest import mlp, make_problem
        net = mlp()
        x, y = make_problem(16, 3)
        # tell the parent when the C call is running: a helper thread, not a callback
        def announce():
            print("started", flush=True)
        threading.Timer(0.5, announce).start()
        try:
            nnprobe.attack_pgd(net, x, y, steps=10**6, batch_size=4)
            print("completed")
        except nnprobe.Interrupted as e:
            p = e.partial
            print("interrupted", int(p.finished.sum()), len(p), flush=True)
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(REPO, "python"), HERE]))
    env["NNPROBE_LIBRARY"] = os.path.realpath(nnprobe.library_path)
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = p.stdout.readline()
        assert line.strip() == "started", line + p.stderr.read()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    words = out.split()
    assert words[0] == "interrupted", out + err
    assert int(words[1]) < int(words[2]) == 16


def test_sigint_after_last_report_gives_complete_results(trained, sigint_default):
    """Ctrl-C during the last progress report of a call that ignores it (the Lipschitz
    bounds report completion last): the call completes and Interrupted carries it all."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals go to the main thread")

    def progress(done, total):
        if done == total:
            signal.raise_signal(signal.SIGINT)
        return False
    with pytest.raises(nnprobe.Interrupted) as ei:
        nnprobe.lipschitz_bounds(trained, progress=progress)
    ref = nnprobe.lipschitz_bounds(trained)
    np.testing.assert_array_equal(ei.value.partial["upper_to"], ref["upper_to"])
    # without a callback of the caller's, Ctrl-C is still caught by the binding's own one
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_thread_count_setting():
    """nnp_threads_set/get through the binding: set, read back, refuse too many, restore."""
    nnprobe.threads_set(1)
    assert nnprobe.threads_get() == 1
    with pytest.raises(nnprobe.InvalidArgument, match="nnp_threads_set"):
        nnprobe.threads_set(100000)
    assert nnprobe.threads_get() == 1
    nnprobe.threads_set(0)
    assert nnprobe.threads_get() >= 1
