# VoxServe GPU image: TorchServe + the Whisper handlers + the embedded models.
#   docker build -t voxserve .
#   docker run --gpus all -p 8080:8080 -p 8082:8082 voxserve
# PyPI's torch wheels carry their own CUDA runtime; the host needs only the NVIDIA
# driver and the container toolkit. Management (8081) stays inside the container.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VOXSERVE_CACHE=/opt/voxserve-cache \
    PYTHONPATH=/srv/voxserve

# Java 17 runs TorchServe's frontend; PyAV bundles its own FFmpeg.
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless=17.* \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /srv/voxserve
COPY requirements.lock .
RUN pip install -r requirements.lock

COPY handlers handlers
COPY modelbuild modelbuild
COPY server server
COPY config config
COPY client client
RUN pip install --no-deps ./client \
    && python -m modelbuild archive --model base --name whisper-base --version 1.0 \
    && python -m modelbuild vad-archive --name speech-segments --version 1.0 \
    && rm -rf /opt/voxserve-cache/checkpoints

# Inside the container the inference and metrics APIs listen on all interfaces (publish
# them behind your load balancer); management stays on loopback; tokens stay on.
RUN sed -e 's#^inference_address=.*#inference_address=http://0.0.0.0:8080#' \
        -e 's#^metrics_address=.*#metrics_address=http://0.0.0.0:8082#' \
        -e 's#^allowed_urls=.*#allowed_urls=file:///srv/voxserve/model_store/.*\\\\.mar#' \
        config/config.properties > config/runtime.properties \
    && printf 'model_store=/srv/voxserve/model_store\nmetrics_config=/srv/voxserve/config/metrics.yaml\n' \
        >> config/runtime.properties \
    && useradd --create-home --uid 10001 voxserve \
    && mkdir -p /srv/voxserve/run \
    && chown -R voxserve /srv/voxserve/run

USER 10001
WORKDIR /srv/voxserve/run
EXPOSE 8080 8082
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8082/metrics', timeout=4)"]
ENTRYPOINT ["torchserve", "--start", "--foreground", "--ncs", "--model-store", "/srv/voxserve/model_store", "--ts-config", "/srv/voxserve/config/runtime.properties"]
CMD ["--models", "whisper-base=whisper-base.mar", "speech-segments=speech-segments.mar"]
