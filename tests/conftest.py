import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # tests import their fixture builders as plain modules
os.environ.setdefault("MUJOCO_GL", "osmesa")
