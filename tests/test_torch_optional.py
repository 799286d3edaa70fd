"""savkit.torch without PyTorch installed (a separate module: test_torch skips entirely when torch is absent)."""

from __future__ import annotations

import subprocess
import sys


def test_without_torch_the_import_error_says_how_to_install() -> None:
    code = "import sys; sys.modules['torch'] = None; import savkit.torch"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 1
    assert "ImportError: savkit.torch needs PyTorch" in result.stderr
    assert "pip install 'savkit[torch]'" in result.stderr


def test_savkit_core_does_not_import_torch() -> None:
    code = "import sys; import savkit.dataset, savkit.viz, savkit.cli; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
