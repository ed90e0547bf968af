# Nephthys service image: `nephthys db upgrade` then `nephthys serve` on 0.0.0.0.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOST=0.0.0.0 \
    PORT=3000

WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
COPY nephthys/__init__.py nephthys/__init__.py
RUN pip install . && pip uninstall -y nephthys

COPY nephthys ./nephthys
COPY prisma ./prisma
RUN pip install --no-deps . \
    && useradd --create-home --uid 10001 nephthys

USER nephthys
EXPOSE 3000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"3000\")}/health', timeout=4)"

# The schema is upgraded by its own step so a failed migration stops the container
# before it serves; serve then skips the upgrade it would otherwise do.
CMD ["sh", "-c", "nephthys db upgrade && exec nephthys serve --no-migrate"]
