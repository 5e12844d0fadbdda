"""The reference for the fan-out benchmarks: bare Celery tasks that do the
same signed webhook POST as ``notifications.channels.webhook.send`` — same JSON
encoding, same Standard Webhooks signature, same headers, same timeout — and
the same one-message SMTP send as a subscriber email (connect, send, quit),
with no database, no outbox and no Django.

It lives on its own Celery app and queue so that its workers never pick up
Keel's tasks (and Keel's never pick up these):

    celery -A benchmarks.reference_tasks worker --pool ... --concurrency ...

The worker options mirror Keel's (``acks_late``, prefetch 1, JSON).
"""

import json
import os
import smtplib
import time
import urllib.request
from email.message import EmailMessage

from celery import Celery

from notifications.channels.webhook import sign

QUEUE = "bench-reference"

app = Celery("keel-bench-reference")
app.conf.update(
    broker_url=os.environ["REDIS_URL"],
    broker_connection_retry_on_startup=True,
    task_default_queue=QUEUE,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    worker_hijack_root_logger=True,
)
TIMEOUT = float(os.environ.get("KEEL_OUTBOUND_TIMEOUT_SECONDS", "5"))


@app.task(name="bench.reference_post", acks_late=True, ignore_result=True)
def reference_post(url: str, secret: str, message_id: str, payload: dict) -> bool:
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    timestamp = int(time.time())
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Keel-Webhooks/1",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(
                secret=secret, message_id=message_id, timestamp=timestamp, body=body
            ),
        },
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        response.read(1024)
    return True


@app.task(name="bench.reference_email", acks_late=True, ignore_result=True)
def reference_email(
    host: str, port: int, sender: str, recipient: str, message_id: str, subject: str, body: str
) -> bool:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = recipient
    message["Message-ID"] = message_id
    message.set_content(body)
    with smtplib.SMTP(host, port, timeout=TIMEOUT) as smtp:
        smtp.send_message(message)
    return True
