import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests import their fixture builders as plain modules
os.environ.setdefault("MUJOCO_GL", "osmesa")


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models are all small ops: on a shared 2-core machine a second thread only adds waiting (50x here).
    A module takes it with `pytestmark = pytest.mark.usefixtures("one_thread")`."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
