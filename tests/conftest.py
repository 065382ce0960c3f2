import contextlib
import os
import warnings

import pytest
import torch

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ["GANSUITE_CPU_PLAN"] = "fp32"  # exact comparisons; tests/test_cpu_plan.py lifts it
torch.set_num_threads(2)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    warnings.simplefilter("default")


@pytest.fixture
def random_vgg19_file():
    """Writes torchvision's VGG19 weights, random (no network needed), at a path: only its convolutions
    (80 of 548 MB), all that a VGG content loss reads."""
    from torchvision.models import vgg19

    def write(path):
        torch.save({k: v for k, v in vgg19(weights=None).state_dict().items() if k.startswith("features.")}, path)
        return path

    return write


@pytest.fixture
def http_server(tmp_path):
    """(folder, base URL) of a local HTTP server on 127.0.0.1 that honours Range requests."""
    import functools
    import http.server
    import threading

    root = tmp_path / "www"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            path = root / self.path.lstrip("/")
            if not path.is_file():
                self.send_error(404)
                return
            data = path.read_bytes()
            start = 0
            if "Range" in self.headers:
                start = int(self.headers["Range"].split("=")[1].split("-")[0])
                if start >= len(data):
                    self.send_error(416)
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            # a client may stop reading midway, as the interrupted-download tests do
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data[start:])

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
