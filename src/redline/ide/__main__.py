"""``python -m redline.ide``: the Language Server on stdio, without the CLI around it."""

from redline.ide.server import build_server, serve_stdio

if __name__ == "__main__":
    serve_stdio(build_server())
