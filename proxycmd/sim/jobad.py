"""The simulated pool's job ads: a submit description's commands as the schedd's ad has them, and the
values a starter reads back from it (kill signals, vacate times).  Pure but for the queue's cluster counter."""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Optional

NEXT_CLUSTER = "next-cluster"  # cluster ids are never reused, as a schedd's job queue log keeps them


def next_free_cluster(root: Path, suffix: str = "") -> int:
    """The schedd's next cluster id (*suffix*: "" for the default schedd, ".NAME" for a named one)."""
    used = [0]
    try:
        used.append(int((root / (NEXT_CLUSTER + suffix)).read_text().strip()) - 1)
    except (OSError, ValueError):
        pass
    execute = root / "execute"
    sandbox = re.compile(r"dir_(\d+)\.\d+" + re.escape(suffix))
    if execute.is_dir():
        for entry in execute.iterdir():
            found = sandbox.fullmatch(entry.name)
            if found:
                used.append(int(found.group(1)))
    return max(used) + 1


RESOURCE_ATTRIBUTES = {"request_cpus": "RequestCpus", "request_memory": "RequestMemory", "request_disk": "RequestDisk",
                        "request_gpus": "RequestGPUs", "container_image": "ContainerImage",
                        "requirements": "Requirements", "accounting_group": "AcctGroup", "batch_name": "JobBatchName",
                        "kill_sig": "KillSig", "remove_kill_sig": "RemoveKillSig", "hold_kill_sig": "HoldKillSig",
                        "job_max_vacate_time": "JobMaxVacateTime"}

STRING_COMMANDS = {"container_image", "accounting_group", "batch_name", "kill_sig", "remove_kill_sig",
                    "hold_kill_sig"}


def ad_text(value: str) -> str:
    """A value as the starter writes it into the job ad file: ClassAd's booleans in lower case (the
    schedd parses `MY.InteractiveJob = True` into the literal `true`, which is what scripts grep for)."""
    return value.lower() if value.strip().lower() in ("true", "false") else value


def signal_number(text: str) -> int:
    """A KillSig value ("SIGUSR1", "USR1", 10; quoted as in the ad) as a number; SIGTERM when unset."""
    name = unquoted(text.strip()).upper()
    if name.isdigit():
        return int(name)
    try:
        return int(getattr(signal, name if name.startswith("SIG") else "SIG" + name))
    except (AttributeError, TypeError):
        return int(signal.SIGTERM)


def seconds(text: Optional[str], default: float) -> float:
    try:
        return max(0.0, float(text)) if text is not None else default
    except ValueError:
        return default


def unquoted(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text
