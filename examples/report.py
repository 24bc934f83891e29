"""The example Python task of ``tasks.yaml``: prints a small report (standard library only)."""

import argparse
import platform
import sys
from datetime import UTC, datetime

parser = argparse.ArgumentParser()
parser.add_argument("--title", default="report")
options = parser.parse_args()
print(f"{options.title}: {datetime.now(UTC):%Y-%m-%d %H:%M}Z")
print(f"python {platform.python_version()} on {platform.node()}")
sys.exit(0)
