"""Convert a LeRobot v3 dataset to WebDataset training shards.

    python conversions/lerobot_to_shards.py INPUT OUTPUT [--overwrite] [--option KEY=VALUE ...]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main("lerobot", "shards", __doc__.splitlines()[0]))
