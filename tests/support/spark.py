"""Starts a standalone Spark master and one worker (pyspark's own distribution) on 127.0.0.1, and stops them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.azurite import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class SparkCluster:
    """A running standalone cluster: its master URL and the settings a driver on this machine needs."""

    url: str
    conf: tuple[tuple[str, str], ...]


def _spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


@contextmanager
def start_spark_cluster(timeout: float = 120.0) -> Iterator[SparkCluster]:
    """`org.apache.spark.deploy.master.Master` and one `...worker.Worker` (1 core) until the block ends."""
    home = _spark_home()
    work = Path(tempfile.mkdtemp(prefix="spark-cluster-"))
    port, ui, wui = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOG_DIR": str(work),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_WORKER_DIR": str(work / "worker"),
        "PYSPARK_PYTHON": sys.executable,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    }
    cls = str(home / "bin" / "spark-class")
    logs = [(work / "master.log").open("wb"), (work / "worker.log").open("wb")]
    master = subprocess.Popen(
        [
            cls,
            "org.apache.spark.deploy.master.Master",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--webui-port",
            str(ui),
        ],
        env=env,
        stdout=logs[0],
        stderr=subprocess.STDOUT,
    )
    url = f"spark://127.0.0.1:{port}"
    worker = subprocess.Popen(
        [
            cls,
            "org.apache.spark.deploy.worker.Worker",
            url,
            "--host",
            "127.0.0.1",
            "--cores",
            "1",
            "--memory",
            "1g",
            "--webui-port",
            str(wui),
        ],
        env=env,
        stdout=logs[1],
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{ui}/json/", timeout=2) as resp:
                    state = json.loads(resp.read())
                if state.get("aliveworkers", 0) >= 1:
                    break
            except (OSError, ValueError):  # not up yet, or another process answered on the port for now
                pass
            if master.poll() is not None or worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "the Spark cluster did not start: "
                    + (work / "master.log").read_text()[-1500:]
                    + (work / "worker.log").read_text()[-1500:]
                )
            time.sleep(0.5)
        conf = (
            ("spark.driver.host", "127.0.0.1"),
            ("spark.driver.bindAddress", "127.0.0.1"),
            ("spark.executor.memory", "512m"),
            ("spark.cores.max", "1"),
            ("spark.executorEnv.PYTHONPATH", env["PYTHONPATH"]),
            ("spark.executorEnv.PYSPARK_PYTHON", sys.executable),
        )
        yield SparkCluster(url, conf)
    finally:
        for proc in (worker, master):
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()
        shutil.rmtree(work, ignore_errors=True)
