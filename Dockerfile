# blockserve: a TensorFlow Serving-compatible model server (gRPC 8500, REST 8501).
#
#   docker build -t blockserve:0.1.0 .
#   docker run -v models:/models blockserve:0.1.0          # serves /models/models.config
#   docker run -v models:/models --entrypoint python blockserve:0.1.0 \
#       -m models.export --output-dir /models --skip-existing   # writes the seed models there
#
# docker-compose.yml and deploy/k8s/ run both steps for you; see docs/deploy.md.

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
# The dependencies alone, read from pyproject.toml, so that the heavy layer below (TensorFlow) is
# rebuilt when they change and not on every edit of the source.
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
        > requirements.txt
COPY proto ./proto
COPY models ./models
COPY service ./service
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN --mount=type=bind,from=build,source=/src/requirements.txt,target=/tmp/requirements.txt \
    pip install --no-cache-dir -r /tmp/requirements.txt
RUN --mount=type=bind,from=build,source=/wheels,target=/tmp/wheels \
    pip install --no-cache-dir --no-deps /tmp/wheels/*.whl
# /models belongs to the server's user so that a named volume mounted there starts out writable
# for the export (Docker copies the ownership of the image's folder into a new volume).
RUN groupadd --system --gid 10001 blockserve \
    && useradd --system --uid 10001 --gid blockserve --create-home --home-dir /home/blockserve \
        blockserve \
    && install -d -o blockserve -g blockserve /models
USER 10001:10001
WORKDIR /home/blockserve
EXPOSE 8500 8501
# Ready, not merely alive: every configured model has a version being served. The slim image has
# no curl; urlopen raises on a 503 or a refused connection, which exits 1.
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/readyz', timeout=4)"]
# Exec form: the server is PID 1 and receives SIGTERM itself, drains in-flight requests, exits 0.
ENTRYPOINT ["blockserve"]
CMD ["--port=8500", "--rest_api_port=8501", "--model_config_file=/models/models.config"]
