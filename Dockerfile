# One image for every scheduler process: the API, the orchestrator and the
# executor workers differ only by their command (see docker-compose.yml).
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    SCHEDULER_DATA_DIR=/var/lib/scheduler

WORKDIR /app
COPY pyproject.toml README.md ./
COPY settings.py data_dir.py backoff.py api_main.py worker_main.py devstack.py logging_setup.py ./
COPY api ./api
COPY activities ./activities
COPY domain ./domain
COPY processes ./processes
COPY worker ./worker
COPY persistence ./persistence
COPY workflows ./workflows

RUN pip install . \
    && useradd --create-home --uid 10001 scheduler \
    && mkdir -p /var/lib/scheduler \
    && chown scheduler /var/lib/scheduler

# The API and the orchestrator run as this unprivileged user; the compose file
# starts the shell and Python workers as root so that their tasks run as
# nobody (SCHEDULER_RUN_AS_USER). No secret is baked in (see .env.example).
USER scheduler
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
    CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2)" || exit 1
CMD ["python", "api_main.py"]
