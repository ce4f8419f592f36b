"""``python -m redline.ide``: the Language Server on stdio, without the CLI around it."""

from redline.ide.app import build_server
from redline.ide.server import serve_stdio

if __name__ == "__main__":
    serve_stdio(build_server())
