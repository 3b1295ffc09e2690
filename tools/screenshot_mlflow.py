"""Screenshot of the MLflow UI showing a sweep (docs/img): headless Chromium driven over the DevTools protocol.

``python -m tools.screenshot_mlflow URL OUT.png [--click CSS-SELECTOR ...]``: opens URL in Debian's ``chromium``
(headless, no sandbox, no GPU, no background networking, a throw-away profile), waits for the page, clicks the
elements matching each ``--click`` CSS selector in turn (e.g. to expand a parent run), and writes a
PNG. Needs ``websocket-client`` (a docs tool, not a dependency of the package).
"""
from __future__ import annotations

import argparse
import base64
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class _Page:
    def __init__(self, ws_url: str):
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=120)
        self.n = 0

    def call(self, method: str, **params):
        self.n += 1
        self.ws.send(json.dumps({'id': self.n, 'method': method, 'params': params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get('id') == self.n:
                if 'error' in msg:
                    raise RuntimeError(f'{method}: {msg["error"]}')
                return msg.get('result', {})

    def js(self, code: str):
        return self.call('Runtime.evaluate', expression=code, returnByValue=True).get('result', {}).get('value')


def shoot(url: str, out: str, clicks=(), width: int = 1600, height: int = 1000, wait: float = 20.0) -> None:
    port = _free_port()
    profile = tempfile.mkdtemp(prefix='chromium-')
    proc = subprocess.Popen(['chromium', '--headless', '--no-sandbox', '--disable-gpu',
                             '--disable-background-networking', '--disable-component-update', '--no-first-run',
                             f'--user-data-dir={profile}', f'--remote-debugging-port={port}',
                             f'--window-size={width},{height}', '--hide-scrollbars', 'about:blank'],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f'http://127.0.0.1:{port}/json') as r:
                    pages = [p for p in json.load(r) if p.get('type') == 'page']
                if pages:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError('chromium did not start')
            time.sleep(0.5)
        page = _Page(pages[0]['webSocketDebuggerUrl'])
        page.call('Emulation.setDeviceMetricsOverride', width=width, height=height, deviceScaleFactor=1, mobile=False)
        page.call('Page.enable')
        page.call('Page.navigate', url=url)
        time.sleep(wait)
        for selector in clicks:
            clicked = page.js(f"""(() => {{
                const hit = [...document.querySelectorAll({json.dumps(selector)})];
                hit.forEach(e => e.click());
                return hit.length;
            }})()""")
            print(f'clicked {clicked} element(s) matching {selector!r}')
            time.sleep(wait / 3)
        shot = page.call('Page.captureScreenshot', format='png')
        with open(out, 'wb') as f:
            f.write(base64.b64decode(shot['data']))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(profile, ignore_errors=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('url')
    p.add_argument('out')
    p.add_argument('--click', action='append', default=[])
    p.add_argument('--width', type=int, default=1600)
    p.add_argument('--height', type=int, default=1000)
    p.add_argument('--wait', type=float, default=20.0)
    a = p.parse_args(argv)
    shoot(a.url, a.out, a.click, a.width, a.height, a.wait)
    print(a.out)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
