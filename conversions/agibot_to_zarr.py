"""Convert AgiBot World raw data to a diffusion-policy zarr replay buffer.

    python conversions/agibot_to_zarr.py INPUT OUTPUT [--overwrite] [--option KEY=VALUE ...]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main("agibot", "zarr", __doc__.splitlines()[0]))
