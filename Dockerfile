# sociocs-slack-bot: build a virtualenv in one stage, copy only it into a slim final stage.
#
#   docker build -t sociocs-slack-bot .
#   docker run --env-file .env -p 3000:3000 -v sociocs-bot-data:/data sociocs-slack-bot
#
# BASE_IMAGE lets the image build where no registry is reachable (any Debian-like image with python3,
# venv and pip, e.g. localhost/python-base:bookworm); both stages must use the same one.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python3 -m venv /opt/venv
# Dependencies first, from pyproject.toml alone, so a code change does not reinstall them.
COPY pyproject.toml ./
RUN python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
    > /tmp/requirements.txt \
 && /opt/venv/bin/pip install --requirement /tmp/requirements.txt
COPY README.md ./
COPY bot ./bot
# The project itself, then drop what only installing needs: pip and setuptools stay out of the image.
RUN /opt/venv/bin/pip install --no-deps . \
 && /opt/venv/bin/pip uninstall --yes pip setuptools

FROM ${BASE_IMAGE}
ARG UID=10001
LABEL org.opencontainers.image.title="sociocs-slack-bot" \
      org.opencontainers.image.description="Send SMS and WhatsApp messages through Sociocs from Slack"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATABASE_URL=sqlite:////data/sociocs-bot.db
# A fixed non-root user; /data (the SQLite ledger) is the only place it writes. /app/data points there
# too, so the default relative DATABASE_URL (./data/...) lands in the volume as well.
RUN groupadd --system --gid "${UID}" bot \
 && useradd --system --uid "${UID}" --gid bot --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin bot \
 && mkdir -p /data /app \
 && ln -s /data /app/data \
 && chown "${UID}:${UID}" /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
VOLUME ["/data"]
USER ${UID}:${UID}
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"]
# PID 1 is the bot itself: SIGTERM reaches it directly and it stops gracefully (SHUTDOWN_GRACE_SECONDS).
STOPSIGNAL SIGTERM
ENTRYPOINT ["sociocs-bot"]
CMD ["serve"]
