"""scripts/run prints the address it really serves: PORT decides, before anything is printed."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_port_is_settled_before_the_demo_logins_are_printed():
    lines = (ROOT / "scripts" / "run").read_text().splitlines()
    seed = next(i for i, line in enumerate(lines) if "seed_demo" in line)
    exported = [i for i, line in enumerate(lines) if line.startswith("export SITE_PORT=")]
    assert exported and exported[0] < seed, "SITE_PORT must follow PORT before seed_demo prints"


def test_the_banner_and_the_logins_follow_port(tmp_path):
    """Run the lines of scripts/run that decide the port, with PORT=8123 (no services)."""
    lines = (ROOT / "scripts" / "run").read_text().splitlines()
    settle = [line for line in lines if line.startswith("export PORT=") or "SITE_PORT=" in line]
    banner = next(line for line in lines if "Handoff is starting on" in line)
    script = "\n".join([*settle, banner, 'echo "site port $SITE_PORT"'])
    done = subprocess.run(
        ["/bin/bash", "-c", script],
        env={"PORT": "8123", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "http://localhost:8123/" in done.stdout and "site port 8123" in done.stdout
