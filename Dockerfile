# clipbot in a container: `docker build -t clipbot .`, then see README.md, "Running in Docker".
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what the package needs: the image does not carry the tests or a virtualenv.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY clipbot ./clipbot
RUN pip install '.[postgres]' && rm -rf /src

# A user of its own, and the SQLite file in a volume it owns.
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home clipbot \
    && mkdir /data && chown clipbot:clipbot /data
USER clipbot
WORKDIR /data
VOLUME ["/data"]

ENV CLIPBOT_DATABASE_URL=sqlite:////data/clipbot.db \
    CLIPBOT_LOG_FORMAT=json \
    CLIPBOT_METRICS_PORT=9464
EXPOSE 9464

# Reads the health record in the store only (no network). Docker reserves exit code 2, so bad
# configuration (2) is reported as unhealthy (1).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD clipbot healthcheck || exit 1

# clipbot stops within 10 s of SIGTERM, inside `docker stop`'s default grace.
STOPSIGNAL SIGTERM
ENTRYPOINT ["clipbot"]
CMD ["run"]
