# The Simpul server (and, once the pipeline lands, the worker) for production.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY agent_forms ./agent_forms
COPY replication ./replication
COPY registries ./registries
COPY server ./server
COPY simpul ./simpul
COPY sync ./sync
RUN pip install -c constraints.txt . && useradd --system --uid 10001 simpul
USER simpul
ENV SIMPUL_ENVIRONMENT=production SIMPUL_HTTP_HOST=0.0.0.0 SIMPUL_HTTP_PORT=8000 SIMPUL_DATA_DIR=/tmp/simpul
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --retries=5 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz').status==200 else 1)"
CMD ["sh", "-c", "simpul provision && simpul serve"]
