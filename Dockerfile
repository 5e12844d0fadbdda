FROM python:3.11-slim
# Static files live in the image, not the data volume: a rebuild must not be shadowed
# by an older manifest kept in /data.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 KEEL_DATA_DIR=/data STATIC_ROOT=/app/staticfiles
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config config
COPY common common
COPY incidents incidents
COPY postmortems postmortems
COPY notifications notifications
COPY statuspage statuspage
COPY templates templates
COPY static static
COPY manage.py ./
RUN pip install --no-cache-dir . \
    && SECRET_KEY=build-only python manage.py collectstatic --no-input --verbosity 0 \
    && useradd --system --home /app keel && mkdir -p /data && chown keel /data
USER keel
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--config", "config/gunicorn.py", "--bind", "0.0.0.0:8000", "--workers", "3", "--worker-class", "gthread", "--threads", "8", "--timeout", "30"]
