"""The README's Python examples run as written."""

import re
from pathlib import Path


README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert len(blocks) > 0
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
    output = capsys.readouterr().out
    assert "neighbor_2_type" in output and "cell_shift_2_c" in output
