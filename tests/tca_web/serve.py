#!/usr/bin/env python3
"""TCA's prebuilt web UI, served the way TCA's deploy files say, in front of a codepup.

Mirrors `deploy/scripts/init.sh` and `deploy/nginx/ingress.conf` from TCA's `tca-deploy-source`:
each app's zip is unpacked into its own folder, `framework/index.html` is made from
`index.runtime.html`, `deploy/conf/*.json` go to `framework/static/`; `/static/<app>/<file>` comes
from the app's folder, `/server/` is proxied to the back end with that prefix stripped
(`proxy_pass http://SERVER_ENV/;`), and every other path is a framework file or `index.html`.

Usage: serve.py TCA_WEB_DIR DEPLOY_DIR BACKEND_URL LOG_FILE. Prints the port it listens on, then
serves until killed. Every proxied request is appended to LOG_FILE as `METHOD PATH STATUS`.
"""

import http.client
import http.server
import shutil
import sys
import threading
import urllib.parse
import zipfile
from pathlib import Path

APPS = ["login", "tca-layout", "tca-analysis", "tca-manage"]
FRAMEWORK = "framework"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "application/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".gif": "image/gif",
    ".jpg": "image/jpeg",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


def deploy(source: Path, target: Path) -> None:
    """init.sh's init_unzip_build and init_framework_web."""
    for app in [FRAMEWORK] + APPS:
        with zipfile.ZipFile(source / f"{app}.zip") as archive:
            archive.extractall(target / app)
    framework = target / FRAMEWORK
    replacements = {
        "__TITLE__": "腾讯云代码分析",
        "__KEYWORDS__": "代码检查、圈复杂度、重复代码、代码统计",
        "__DESCRIPTION__": "腾讯云代码分析",
        "__FAVICON__": "/static/images/favicon.ico",
        "__MICRO_FRONTEND_API__": "/static/configs.json",
        "__MICRO_FRONTEND_SETTING_API__": "/static/settings.json",
    }
    page = (framework / "index.runtime.html").read_text(encoding="utf-8")
    for key, value in replacements.items():
        page = page.replace(key, value)
    (framework / "index.html").write_text(page, encoding="utf-8")
    (framework / "static").mkdir(exist_ok=True)
    for name in ["configs.json", "settings.json"]:
        shutil.copy(source / "deploy" / "conf" / name, framework / "static" / name)


def make_handler(root: Path, backend: str, log_file: Path):
    """A request handler class serving `root` and proxying `/server/` to `backend`."""
    backend_url = urllib.parse.urlsplit(backend)
    log_lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        """ingress.conf's locations, in order of precedence."""

        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # pylint: disable=arguments-differ
            """Quiet: the proxied calls go to the log file instead."""

        def handle_any(self):
            """Every method: `/server/` is proxied, the rest is a file."""
            path = urllib.parse.urlsplit(self.path).path
            if path.startswith("/server/"):
                self.proxy()
            else:
                self.static(path)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any

        def proxy(self):
            """`proxy_pass http://SERVER_ENV/;`: the back end gets the path without `/server`."""
            target = self.path[len("/server"):]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            connection = http.client.HTTPConnection(
                backend_url.hostname, backend_url.port, timeout=120
            )
            try:
                connection.request(self.command, target, body=body, headers=headers)
                answer = connection.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                status = answer.status
            finally:
                connection.close()
            with log_lock, open(log_file, "a", encoding="utf-8") as log:
                log.write(f"{self.command} {self.path} {status}\n")

        def static(self, path):
            """An app's file under `/static/<app>/`, else a framework file or index.html."""
            parts = path.lstrip("/").split("/", 2)
            if len(parts) == 3 and parts[0] == "static" and parts[1] in APPS:
                file = root / parts[1] / parts[2]
                if not self.send_file(file):
                    self.send_error(404)
                return
            file = root / FRAMEWORK / path.lstrip("/")
            if not self.send_file(file):
                self.send_file(root / FRAMEWORK / "index.html")

        def send_file(self, file: Path) -> bool:
            """Sends `file` if it is a file below the root; False otherwise."""
            try:
                resolved = file.resolve()
                resolved.relative_to(root.resolve())
            except ValueError:
                return False
            if not resolved.is_file():
                return False
            data = resolved.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", TYPES.get(resolved.suffix, "application/octet-stream"))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            return True

    return Handler


def main() -> None:
    """Deploys, prints the port, serves."""
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    backend, log_file = sys.argv[3], Path(sys.argv[4])
    deploy(source, target)
    handler = make_handler(target, backend, log_file)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
