"""The README's Python sample runs as printed: its ```python block under "## Using it" is
executed against a model saved here (so a renamed function or attribute fails this test)."""
import os
import re

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def readme_python_sample():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    using = text.index("## Using it")
    m = re.compile(r"```python\n(.*?)```", re.S).search(text, using)
    assert m, "README.md has no ```python block under '## Using it'"
    return m.group(1)


def test_readme_python_sample_runs(trained, problem, tmp_path, monkeypatch):
    _, _, xte, yte = problem
    trained.save(tmp_path / "model.onnx")
    monkeypatch.chdir(tmp_path)
    scope = {"x": xte[:4], "labels": yte[:4]}
    exec(compile(readme_python_sample(), "README.md", "exec"), scope)
    assert scope["dx"].shape == xte[:4].shape
    assert np.isfinite(scope["dx"]).all()
    assert len(scope["res"].success) == 4
    assert scope["bounds"] > 0
