"""The README's Python example runs as written (its section "## Python"),
so that the documented API keeps up with the package."""

import re

from conftest import REPO


def python_blocks(section):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index(f"## {section}\n")
    end = readme.find("\n## ", start + 1)
    body = readme[start : end if end != -1 else len(readme)]
    return re.findall(r"```python\n(.*?)```", body, flags=re.DOTALL)


def test_the_readme_python_example_runs(tmp_path, monkeypatch):
    blocks = python_blocks("Python")
    assert blocks, "the README's Python section has no python code block"
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    # The example fits, saves and searches: its results are real.
    assert (tmp_path / "iris.safetensors").is_file()
    assert namespace["clf"].score(namespace["X"], namespace["y"]) > 0.9
    assert namespace["search"].best_score_ > 0.8
