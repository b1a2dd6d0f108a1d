"""A throwaway Janus for tests, benches and local runs: its own configuration folder (copied
from Debian's ``/etc/janus``, TESTING.md "Janus") with the WebSocket API on a chosen port,
only the VideoRoom plugin and the WebSocket transport loaded, and no admin API.  The caller
stops it by its pid (``JanusProcess.stop``)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

JANUS = "/usr/bin/janus"
PACKAGED_CONFIG = Path("/etc/janus")
LIB = Path("/usr/lib/x86_64-linux-gnu/janus")
STARTUP_SECONDS = 20.0


def janus_installed() -> bool:
    return Path(JANUS).exists() and PACKAGED_CONFIG.is_dir()


def _others(folder: Path, keep: str) -> str:
    """A Janus ``disable`` list: every module in ``folder`` except ``keep``."""
    if not folder.is_dir():
        return ""
    return ",".join(sorted(p.name for p in folder.glob("*.so") if p.name != keep))


def _main_config(folder: Path, lib: Path) -> str:
    return f"""general: {{
  configs_folder = "{folder}"
  plugins_folder = "{lib / "plugins"}"
  transports_folder = "{lib / "transports"}"
  events_folder = "{lib / "events"}"
  loggers_folder = "{lib / "loggers"}"
  debug_level = 3
  session_timeout = 60
}}
media: {{
}}
nat: {{
  nice_debug = false
  ice_ignore_list = "vmnet"
}}
plugins: {{
  disable = "{_others(lib / "plugins", "libjanus_videoroom.so")}"
}}
transports: {{
  disable = "{_others(lib / "transports", "libjanus_websockets.so")}"
}}
loggers: {{
  disable = "{_others(lib / "loggers", "")}"
}}
events: {{
  broadcast = false
}}
"""


def _websockets_config(port: int) -> str:
    return f"""general: {{
  json = "plain"
  ws = true
  ws_port = {port}
  ws_ip = "127.0.0.1"
  wss = false
}}
admin: {{
  admin_ws = false
  admin_wss = false
}}
"""


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class JanusProcess:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_janus(folder: Path, port: int | None = None) -> JanusProcess:
    """Start Janus with its configuration under ``folder``; returns once its WebSocket API
    accepts connections (RuntimeError with the log's tail if it does not)."""
    port = port or free_port()
    config = folder / "janus-config"
    if config.exists():
        shutil.rmtree(config)
    shutil.copytree(PACKAGED_CONFIG, config)
    (config / "janus.jcfg").write_text(_main_config(config, LIB))
    (config / "janus.transport.websockets.jcfg").write_text(_websockets_config(port))
    log_path = folder / "janus.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [JANUS, "-F", str(config), "-C", str(config / "janus.jcfg"), "--disable-colors"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    running = JanusProcess(process, port, log_path)
    deadline = time.monotonic() + STARTUP_SECONDS
    while not _answers(port):
        if process.poll() is not None or time.monotonic() > deadline:
            running.stop()
            tail = log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"janus did not start on port {port}:\n{tail}")
        time.sleep(0.1)
    return running
