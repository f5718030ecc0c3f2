#!/usr/bin/env python3
"""A minimal shop paid through LigdiCash, kept safe by ligdicash-reconciler.

Standard library only (Python 3.9+): copy what you need into your own framework.

    POST /orders                {"amount": 5000, "description": "..."}
        creates the order, the LigdiCash invoice, hands the token to the reconciler and
        answers {"order": {...}, "payment_url": "..."}: send the customer there.
    GET  /orders/{reference}    the order as the shop sees it.
    POST /ligdicash/callback    LigdiCash's callback (the invoice's callback_url). Never
                                trusted: forwarded as it came to the reconciler, which confirms
                                the payment at once. It changes no order.
    POST /webhooks/ligdicash    the reconciler's signed webhook (Standard Webhooks v1). The
                                ONLY place an order becomes paid, once, whatever arrives twice.

Configuration, from the environment:
    SHOP_LISTEN            127.0.0.1:8000
    SHOP_DB                shop.db (the shop's own database: orders, webhook ids, shipments)
    SHOP_PUBLIC_URL        http://127.0.0.1:8000 (how LigdiCash and the customer reach the shop)
    SHOP_WEBHOOK_SECRET    whsec_... (the same secret as the reconciler's [[events.webhooks]])
    LIGDICASH_BASE_URL     https://app.ligdicash.com
    LIGDICASH_API_KEY, LIGDICASH_API_TOKEN
    RECONCILER_HANDOFF     "sqlite" (insert into the reconciler's database) or "api"
    RECONCILER_DB          the reconciler's database, for "sqlite"
    RECONCILER_API_URL     e.g. http://127.0.0.1:9188: the API for "api", and the callback target
    RECONCILER_API_TOKEN   the API's bearer token, for "api"
"""

import base64
import hashlib
import hmac
import json
import os
import sqlite3
import sys
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ENV = os.environ
LIGDICASH = ENV.get("LIGDICASH_BASE_URL", "https://app.ligdicash.com").rstrip("/")
PUBLIC_URL = ENV.get("SHOP_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
RECONCILER_API = ENV.get("RECONCILER_API_URL", "").rstrip("/")
TOLERANCE_SECONDS = 300  # Standard Webhooks: refuse timestamps older or newer than 5 minutes

SHOP_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id            INTEGER PRIMARY KEY,
    reference     TEXT NOT NULL UNIQUE,      -- sent to LigdiCash as custom_data.transaction_id
    amount        INTEGER NOT NULL,          -- XOF
    status        TEXT NOT NULL DEFAULT 'pending',  -- pending, paid, failed, expired, review, error
    token         TEXT,                      -- LigdiCash's creation token
    paid_event_id TEXT                       -- the reconciler event that made it paid
);
-- Every verified webhook id, so a redelivered event is recognised (at-least-once delivery).
CREATE TABLE IF NOT EXISTS webhook_events (id TEXT PRIMARY KEY, type TEXT, received_at INTEGER);
-- What "fulfilling" means in this example: one row per shipment. Exactly one per paid order.
CREATE TABLE IF NOT EXISTS shipments (
    id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL, event_id TEXT NOT NULL
);
"""


def shop_db():
    db = sqlite3.connect(ENV.get("SHOP_DB", "shop.db"), timeout=5, isolation_level=None)
    db.row_factory = sqlite3.Row
    return db


# --- LigdiCash: create the invoice -------------------------------------------------------


def create_invoice(order):
    """POSTs the full create-invoice body; returns (token, payment_url)."""
    body = {
        "commande": {
            "invoice": {
                "items": [],  # empty: total_amount alone is the amount to collect
                "total_amount": order["amount"],  # integer XOF, no decimals
                "devise": "XOF",
                "description": f"Order {order['reference']}",
                "customer": "",  # must stay empty for the hosted payment page
                "customer_firstname": "",
                "customer_lastname": "",
                "customer_email": "",
                "external_id": "",
                "otp": "",
            },
            "store": {"name": "Example shop", "website_url": PUBLIC_URL},
            "actions": {
                "cancel_url": f"{PUBLIC_URL}/orders/{order['reference']}",
                "return_url": f"{PUBLIC_URL}/orders/{order['reference']}",
                "callback_url": f"{PUBLIC_URL}/ligdicash/callback",
            },
            # The reconciler checks LigdiCash's answer names this order.
            "custom_data": {"transaction_id": order["reference"]},
        }
    }
    request = urllib.request.Request(
        f"{LIGDICASH}/pay/v01/redirect/checkout-invoice/create",
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Apikey": ENV["LIGDICASH_API_KEY"],
            "Authorization": "Bearer " + ENV["LIGDICASH_API_TOKEN"],
            "Accept": "application/json",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        answer = json.load(response)
    if answer.get("response_code") != "00" or not answer.get("token"):
        # response_text holds "Echec (CodeXX)"; the credentials are never in the message.
        raise RuntimeError(f"LigdiCash refused the invoice: {answer.get('response_text')!r}")
    return answer["token"], answer["response_text"]


# --- Hand the token to the reconciler ----------------------------------------------------


def hand_to_reconciler(order, token):
    """Makes the reconciler watch the payment, by SQL or by its API (both idempotent)."""
    if ENV.get("RECONCILER_HANDOFF", "sqlite") == "sqlite":
        db = sqlite3.connect(ENV["RECONCILER_DB"], timeout=5)
        db.execute("PRAGMA busy_timeout = 5000")  # wait for the reconciler's own writes
        with db:
            db.execute(
                "INSERT INTO payments (token, transaction_id, expected_amount) VALUES (?, ?, ?)"
                " ON CONFLICT (token) DO NOTHING",
                (token, order["reference"], order["amount"]),
            )
        db.close()
        return
    payment = {
        "token": token,
        "transaction_id": order["reference"],
        "expected_amount": order["amount"],
    }
    request = urllib.request.Request(
        f"{RECONCILER_API}/v1/payments",
        data=json.dumps(payment).encode(),
        method="POST",
        headers={
            "Authorization": "Bearer " + ENV["RECONCILER_API_TOKEN"],
            "Content-Type": "application/json",
        },
    )
    # 201 created, 200 already there with the same data; anything else raises HTTPError.
    with urllib.request.urlopen(request, timeout=10):
        pass


# --- The reconciler's webhook: verify, then mark the order paid once ----------------------


class BadWebhook(Exception):
    pass


def verify_webhook(secret, headers, body):
    """Standard Webhooks v1. Returns the event, or raises BadWebhook."""
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not (msg_id and timestamp and signatures):
        raise BadWebhook("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise BadWebhook("webhook-timestamp is not an integer") from None
    if abs(time.time() - sent_at) > TOLERANCE_SECONDS:
        raise BadWebhook("webhook-timestamp outside the tolerance (replayed or clock skew)")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body  # the RAW body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    # The header may carry several space-separated signatures (key rotation): any v1 one
    # that matches will do. compare_digest takes the same time wherever the strings differ.
    for candidate in signatures.split():
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return json.loads(body)
    raise BadWebhook("no valid signature")


# What each event type does to an order that is not paid yet.
NEW_STATUS = {
    "payment.completed": "paid",
    "payment.late_completed": "paid",  # money came after a timeout: ship it, or refund it
    "payment.notcompleted": "failed",
    "payment.timeout": "expired",  # may still complete: payment.late_completed then follows
    "payment.mismatch": "review",  # money arrived, not as invoiced: a human looks
    "payment.invalid_token": "review",
}


def apply_event(db, event):
    """Records the event and moves its order, in one transaction. Idempotent twice over:
    a webhook id seen before changes nothing, and an order is paid (and shipped) once."""
    db.execute("BEGIN IMMEDIATE")
    try:
        seen = db.execute(
            "INSERT INTO webhook_events (id, type, received_at) VALUES (?, ?, ?)"
            " ON CONFLICT (id) DO NOTHING",
            (event["id"], event["type"], int(time.time())),
        ).rowcount == 0
        payment = event.get("payment")
        new_status = NEW_STATUS.get(event["type"])
        if not seen and payment and new_status:
            order = db.execute(
                "SELECT * FROM orders WHERE reference = ? AND token = ?",
                (payment["transaction_id"], payment["token"]),
            ).fetchone()
            if order is None:
                print(f"shop: event {event['id']} names no order of ours", file=sys.stderr)
            elif new_status == "paid":
                if payment["amount"] != order["amount"]:  # the reconciler checked; so do we
                    new_status = "review"
                # Only an unpaid order changes: this UPDATE is the idempotency on the order.
                moved = db.execute(
                    "UPDATE orders SET status = ?, paid_event_id = ?"
                    " WHERE id = ? AND status != 'paid'",
                    (new_status, event["id"], order["id"]),
                ).rowcount
                if moved and new_status == "paid":
                    fulfil(db, order, event)
            else:
                db.execute(
                    "UPDATE orders SET status = ? WHERE id = ? AND status = 'pending'",
                    (new_status, order["id"]),
                )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")  # the reconciler retries; nothing half-done stays
        raise


def fulfil(db, order, event):
    """Ship the goods. Here a row; in a real shop, queue the slow work (email, courier)
    from this transaction rather than doing it before answering the webhook."""
    db.execute(
        "INSERT INTO shipments (order_id, event_id) VALUES (?, ?)", (order["id"], event["id"])
    )
    print(f"shop: order {order['reference']} paid, shipped (event {event['id']})", file=sys.stderr)


# --- HTTP --------------------------------------------------------------------------------


class Shop(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/orders":
            try:
                request = json.loads(body or b"{}")
            except ValueError:
                return self.answer(400, {"error": "the body is not JSON"})
            self.new_order(request)
        elif self.path == "/ligdicash/callback":
            self.forward_callback(body)
        elif self.path == "/webhooks/ligdicash":
            self.webhook(body)
        else:
            self.answer(404, {"error": "no such route"})

    def do_GET(self):
        reference = self.path.removeprefix("/orders/")
        db = shop_db()
        order = db.execute("SELECT * FROM orders WHERE reference = ?", (reference,)).fetchone()
        if order is None:
            return self.answer(404, {"error": "no such order"})
        shipped = db.execute("SELECT count(*) FROM shipments WHERE order_id = ?", (order["id"],))
        self.answer(200, dict(order) | {"shipments": shipped.fetchone()[0]})

    def new_order(self, request):
        amount = request.get("amount") if isinstance(request, dict) else None
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            return self.answer(422, {"error": "amount must be a positive whole number of XOF"})
        reference = "ORD-" + uuid.uuid4().hex[:12].upper()
        db = shop_db()
        db.execute("INSERT INTO orders (reference, amount) VALUES (?, ?)", (reference, amount))
        order = {"reference": reference, "amount": amount}
        try:
            token, payment_url = create_invoice(order)
            db.execute("UPDATE orders SET token = ? WHERE reference = ?", (token, reference))
            # Before the customer may pay: a payment the reconciler does not know of could
            # be lost with its callback.
            hand_to_reconciler(order, token)
        except (OSError, RuntimeError, KeyError, ValueError) as e:  # HTTPError is an OSError
            db.execute("UPDATE orders SET status = 'error' WHERE reference = ?", (reference,))
            return self.answer(502, {"error": f"cannot start the payment: {e}"})
        self.answer(201, {"order": order | {"status": "pending"}, "payment_url": payment_url})

    def forward_callback(self, body):
        # LigdiCash's callback claims a status; only the reconciler's confirm is trusted.
        # Hand it over as it came (JSON or form): the payment is then confirmed at once and
        # the webhook below follows. LigdiCash does not retry, so answer 200 regardless.
        request = urllib.request.Request(
            f"{RECONCILER_API}/callbacks/ligdicash",
            data=body,
            method="POST",
            headers={"Content-Type": self.headers.get("Content-Type", "application/json")},
        )
        try:
            urllib.request.urlopen(request, timeout=5).close()
        except OSError as e:
            print(f"shop: callback not forwarded ({e}); the reconciler polls", file=sys.stderr)
        self.answer(200, {"received": True})

    def webhook(self, body):
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            event = verify_webhook(ENV["SHOP_WEBHOOK_SECRET"], headers, body)
        except BadWebhook as e:
            print(f"shop: webhook rejected: {e}", file=sys.stderr)
            return self.answer(401, {"error": str(e)})
        try:
            apply_event(shop_db(), event)
        except Exception as e:  # a bug or a locked database: 500, and the reconciler retries
            print(f"shop: webhook {event.get('id')} not applied: {e!r}", file=sys.stderr)
            return self.answer(500, {"error": "not applied, retry"})
        self.answer(204, None)  # any 2xx: delivered

    def answer(self, status, payload):
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def check_settings():
    """Refuses to start without what every request will need, naming what is wrong."""
    needed = ["SHOP_WEBHOOK_SECRET", "LIGDICASH_API_KEY", "LIGDICASH_API_TOKEN"]
    handoff = ENV.get("RECONCILER_HANDOFF", "sqlite")
    if handoff not in ("sqlite", "api"):
        sys.exit(f"RECONCILER_HANDOFF must be sqlite or api, not {handoff!r}")
    needed += ["RECONCILER_DB"] if handoff == "sqlite" else ["RECONCILER_API_TOKEN"]
    needed += ["RECONCILER_API_URL"]  # callbacks are forwarded there
    missing = [name for name in needed if not ENV.get(name)]
    if missing:
        sys.exit("not set: " + ", ".join(missing))
    try:
        base64.b64decode(ENV["SHOP_WEBHOOK_SECRET"].removeprefix("whsec_"), validate=True)
    except ValueError:
        sys.exit("SHOP_WEBHOOK_SECRET is not whsec_ followed by base64")  # never print it


def main():
    check_settings()
    with shop_db() as db:
        db.executescript(SHOP_SCHEMA)
    host, _, port = ENV.get("SHOP_LISTEN", "127.0.0.1:8000").rpartition(":")
    server = ThreadingHTTPServer((host, int(port)), Shop)
    print(f"shop listening on http://{host}:{server.server_port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
