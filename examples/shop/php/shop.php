<?php
// A minimal shop paid through LigdiCash, kept safe by ligdicash-reconciler.
// Plain PHP 8 with PDO (pdo_sqlite) and curl: copy what you need into your own framework.
// Serve it with PHP's built-in server (this file is the router):
//
//     php -S 127.0.0.1:8000 shop.php
//
//   POST /orders               {"amount": 5000}: creates the order and the LigdiCash invoice,
//                              hands the token to the reconciler, answers
//                              {"order": {...}, "payment_url": "..."}: send the customer there.
//   GET  /orders/{reference}   the order as the shop sees it.
//   POST /ligdicash/callback   LigdiCash's callback (the invoice's callback_url). Never trusted:
//                              forwarded as it came to the reconciler, which confirms the
//                              payment at once. It changes no order.
//   POST /webhooks/ligdicash   the reconciler's signed webhook (Standard Webhooks v1). The ONLY
//                              place an order becomes paid, once, whatever arrives twice.
//
// Configuration, from the environment (the same names as the Python example):
//   SHOP_DB, SHOP_PUBLIC_URL, SHOP_WEBHOOK_SECRET (whsec_...), LIGDICASH_BASE_URL,
//   LIGDICASH_API_KEY, LIGDICASH_API_TOKEN, RECONCILER_HANDOFF ("sqlite" or "api"),
//   RECONCILER_DB (for "sqlite"), RECONCILER_API_URL, RECONCILER_API_TOKEN (for "api").

declare(strict_types=1);

const TOLERANCE_SECONDS = 300; // Standard Webhooks: refuse timestamps older or newer than 5 min

function env(string $name, ?string $default = null): string
{
    $value = getenv($name);
    if ($value === false || $value === '') {
        if ($default === null) {
            throw new RuntimeException("$name is not set");
        }
        return $default;
    }
    return $value;
}

function shop_db(): PDO
{
    $db = new PDO('sqlite:' . env('SHOP_DB', 'shop.db'));
    $db->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
    $db->setAttribute(PDO::ATTR_DEFAULT_FETCH_MODE, PDO::FETCH_ASSOC);
    $db->exec('PRAGMA busy_timeout = 5000');
    $db->exec("CREATE TABLE IF NOT EXISTS orders (
        id            INTEGER PRIMARY KEY,
        reference     TEXT NOT NULL UNIQUE,             -- custom_data.transaction_id
        amount        INTEGER NOT NULL,                 -- XOF
        -- pending, paid, failed, expired, review, error
        status        TEXT NOT NULL DEFAULT 'pending',
        token         TEXT,                             -- LigdiCash's creation token
        paid_event_id TEXT                              -- the reconciler event that made it paid
    )");
    // Every verified webhook id, so a redelivered event is recognised (at-least-once delivery).
    $db->exec('CREATE TABLE IF NOT EXISTS webhook_events (
        id TEXT PRIMARY KEY, type TEXT, received_at INTEGER
    )');
    // What "fulfilling" means in this example: one row per shipment, exactly one per paid order.
    $db->exec('CREATE TABLE IF NOT EXISTS shipments (
        id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL, event_id TEXT NOT NULL
    )');
    return $db;
}

function public_url(): string
{
    return rtrim(env('SHOP_PUBLIC_URL', 'http://127.0.0.1:8000'), '/');
}

/** POSTs JSON (or a raw body); returns [HTTP status, body]. Throws when nothing answered. */
function http_post(string $url, string $body, array $headers, int $timeout): array
{
    $ch = curl_init($url);
    curl_setopt_array($ch, [
        CURLOPT_POST => true,
        CURLOPT_POSTFIELDS => $body,
        CURLOPT_HTTPHEADER => $headers,
        CURLOPT_RETURNTRANSFER => true,
        CURLOPT_TIMEOUT => $timeout,
    ]);
    $answer = curl_exec($ch);
    $status = curl_getinfo($ch, CURLINFO_HTTP_CODE);
    $error = curl_error($ch);
    curl_close($ch);
    if ($answer === false) {
        // The URL only, never the headers: they hold credentials.
        throw new RuntimeException("no answer from " . parse_url($url, PHP_URL_HOST) . ": $error");
    }
    return [$status, $answer];
}

// --- LigdiCash: create the invoice ------------------------------------------------------

/** POSTs the full create-invoice body; returns [token, payment URL]. */
function create_invoice(array $order): array
{
    $shop = public_url();
    $body = ['commande' => [
        'invoice' => [
            'items' => [],                          // empty: total_amount alone is the amount
            'total_amount' => $order['amount'],     // integer XOF, no decimals
            'devise' => 'XOF',
            'description' => "Order {$order['reference']}",
            'customer' => '',                       // must stay empty for the hosted page
            'customer_firstname' => '',
            'customer_lastname' => '',
            'customer_email' => '',
            'external_id' => '',
            'otp' => '',
        ],
        'store' => ['name' => 'Example shop', 'website_url' => $shop],
        'actions' => [
            'cancel_url' => "$shop/orders/{$order['reference']}",
            'return_url' => "$shop/orders/{$order['reference']}",
            'callback_url' => "$shop/ligdicash/callback",
        ],
        // The reconciler checks LigdiCash's answer names this order.
        'custom_data' => ['transaction_id' => $order['reference']],
    ]];
    $url = rtrim(env('LIGDICASH_BASE_URL', 'https://app.ligdicash.com'), '/')
        . '/pay/v01/redirect/checkout-invoice/create';
    [, $raw] = http_post($url, json_encode($body), [
        'Apikey: ' . env('LIGDICASH_API_KEY'),
        'Authorization: Bearer ' . env('LIGDICASH_API_TOKEN'),
        'Accept: application/json',
        'Content-Type: application/json',
    ], 15);
    $answer = json_decode($raw, true);
    if (($answer['response_code'] ?? null) !== '00' || empty($answer['token'])) {
        // response_text holds "Echec (CodeXX)"; the credentials are never in the message.
        $why = json_encode($answer['response_text'] ?? $raw);
        throw new RuntimeException("LigdiCash refused the invoice: $why");
    }
    return [$answer['token'], $answer['response_text']];
}

// --- Hand the token to the reconciler ---------------------------------------------------

/** Makes the reconciler watch the payment, by SQL or by its API (both idempotent). */
function hand_to_reconciler(array $order, string $token): void
{
    $handoff = env('RECONCILER_HANDOFF', 'sqlite');
    if ($handoff !== 'sqlite' && $handoff !== 'api') {
        throw new RuntimeException("RECONCILER_HANDOFF must be sqlite or api, not '$handoff'");
    }
    if ($handoff === 'sqlite') {
        $db = new PDO('sqlite:' . env('RECONCILER_DB'));
        $db->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
        $db->exec('PRAGMA busy_timeout = 5000'); // wait for the reconciler's own writes
        $db->prepare('INSERT INTO payments (token, transaction_id, expected_amount) VALUES (?, ?, ?)
                      ON CONFLICT (token) DO NOTHING')
           ->execute([$token, $order['reference'], $order['amount']]);
        return;
    }
    $payment = ['token' => $token, 'transaction_id' => $order['reference'],
                'expected_amount' => $order['amount']];
    [$status, $raw] = http_post(env('RECONCILER_API_URL') . '/v1/payments', json_encode($payment), [
        'Authorization: Bearer ' . env('RECONCILER_API_TOKEN'),
        'Content-Type: application/json',
    ], 10);
    if ($status !== 201 && $status !== 200) { // 201 created, 200 already there with the same data
        throw new RuntimeException("the reconciler refused the payment (HTTP $status): $raw");
    }
}

// --- The reconciler's webhook: verify, then mark the order paid once ---------------------

/** Standard Webhooks v1. Returns the event, or throws UnexpectedValueException. */
function verify_webhook(string $secret, string $body): array
{
    $id = $_SERVER['HTTP_WEBHOOK_ID'] ?? '';
    $timestamp = $_SERVER['HTTP_WEBHOOK_TIMESTAMP'] ?? '';
    $signatures = $_SERVER['HTTP_WEBHOOK_SIGNATURE'] ?? '';
    if ($id === '' || $timestamp === '' || $signatures === '') {
        throw new UnexpectedValueException(
            'missing webhook-id, webhook-timestamp or webhook-signature');
    }
    if (!preg_match('/^[0-9]{1,12}$/', $timestamp)) {
        throw new UnexpectedValueException('webhook-timestamp is not an integer');
    }
    if (abs(time() - (int) $timestamp) > TOLERANCE_SECONDS) {
        throw new UnexpectedValueException(
            'webhook-timestamp outside the tolerance (replayed or clock skew)');
    }
    $key = base64_decode(preg_replace('/^whsec_/', '', $secret), true);
    if ($key === false) {
        throw new RuntimeException('SHOP_WEBHOOK_SECRET is not whsec_ + base64');
    }
    // The RAW body, exactly as received: never a re-encoded json_decode()/json_encode().
    $expected = base64_encode(hash_hmac('sha256', "$id.$timestamp.$body", $key, true));
    // Several space-separated signatures may come (key rotation): any v1 one will do.
    // hash_equals takes the same time wherever the strings differ.
    foreach (explode(' ', $signatures) as $candidate) {
        [$version, $signature] = array_pad(explode(',', $candidate, 2), 2, '');
        if ($version === 'v1' && hash_equals($expected, $signature)) {
            return json_decode($body, true, 512, JSON_THROW_ON_ERROR);
        }
    }
    throw new UnexpectedValueException('no valid signature');
}

// What each event type does to an order that is not paid yet.
const NEW_STATUS = [
    'payment.completed' => 'paid',
    'payment.late_completed' => 'paid',  // money came after a timeout: ship it, or refund it
    'payment.notcompleted' => 'failed',
    'payment.timeout' => 'expired',      // may still complete: payment.late_completed follows
    'payment.mismatch' => 'review',      // money arrived, not as invoiced: a human looks
    'payment.invalid_token' => 'review',
];

/** Records the event and moves its order, in one transaction. Idempotent twice over: a
 *  webhook id seen before changes nothing, and an order is paid (and shipped) once. */
function apply_event(PDO $db, array $event): void
{
    $db->exec('BEGIN IMMEDIATE');
    try {
        $insert = $db->prepare('INSERT INTO webhook_events (id, type, received_at) VALUES (?, ?, ?)
                                ON CONFLICT (id) DO NOTHING');
        $insert->execute([$event['id'], $event['type'], time()]);
        $payment = $event['payment'] ?? null;
        $new = NEW_STATUS[$event['type']] ?? null;
        if ($insert->rowCount() === 1 && $payment && $new) {
            $find = $db->prepare('SELECT * FROM orders WHERE reference = ? AND token = ?');
            $find->execute([$payment['transaction_id'], $payment['token']]);
            $order = $find->fetch();
            if (!$order) {
                error_log("shop: event {$event['id']} names no order of ours");
            } elseif ($new === 'paid') {
                // The reconciler checked the amount; so do we.
                if (!is_int($payment['amount']) || $payment['amount'] !== (int) $order['amount']) {
                    $new = 'review';
                }
                // Only an unpaid order changes: this UPDATE is the idempotency on the order.
                $update = $db->prepare("UPDATE orders SET status = ?, paid_event_id = ?
                                        WHERE id = ? AND status != 'paid'");
                $update->execute([$new, $event['id'], $order['id']]);
                if ($update->rowCount() === 1 && $new === 'paid') {
                    fulfil($db, $order, $event);
                }
            } else {
                $db->prepare("UPDATE orders SET status = ? WHERE id = ? AND status = 'pending'")
                   ->execute([$new, $order['id']]);
            }
        }
        $db->exec('COMMIT');
    } catch (Throwable $e) {
        $db->exec('ROLLBACK'); // the reconciler retries; nothing half-done stays
        throw $e;
    }
}

/** Ship the goods. Here a row; in a real shop, queue the slow work (email, courier) from
 *  this transaction rather than doing it before answering the webhook. */
function fulfil(PDO $db, array $order, array $event): void
{
    $db->prepare('INSERT INTO shipments (order_id, event_id) VALUES (?, ?)')
       ->execute([$order['id'], $event['id']]);
    error_log("shop: order {$order['reference']} paid, shipped (event {$event['id']})");
}

// --- HTTP --------------------------------------------------------------------------------

function answer(int $status, ?array $payload): void
{
    http_response_code($status);
    if ($payload !== null) {
        header('Content-Type: application/json');
        echo json_encode($payload, JSON_UNESCAPED_SLASHES);
    }
}

function new_order(string $body): void
{
    $request = json_decode($body, true);
    $amount = is_array($request) ? ($request['amount'] ?? null) : null;
    if (!is_int($amount) || $amount <= 0) {
        answer(422, ['error' => 'amount must be a positive whole number of XOF']);
        return;
    }
    $order = ['reference' => 'ORD-' . strtoupper(bin2hex(random_bytes(6))), 'amount' => $amount];
    $db = shop_db();
    $db->prepare('INSERT INTO orders (reference, amount) VALUES (?, ?)')
       ->execute([$order['reference'], $amount]);
    try {
        [$token, $paymentUrl] = create_invoice($order);
        $db->prepare('UPDATE orders SET token = ? WHERE reference = ?')
           ->execute([$token, $order['reference']]);
        // Before the customer may pay: a payment the reconciler does not know of could be
        // lost with its callback.
        hand_to_reconciler($order, $token);
    } catch (RuntimeException | PDOException $e) {
        $db->prepare("UPDATE orders SET status = 'error' WHERE reference = ?")
           ->execute([$order['reference']]);
        answer(502, ['error' => 'cannot start the payment: ' . $e->getMessage()]);
        return;
    }
    answer(201, ['order' => $order + ['status' => 'pending'], 'payment_url' => $paymentUrl]);
}

function forward_callback(string $body): void
{
    // LigdiCash's callback claims a status; only the reconciler's confirm is trusted. Hand it
    // over as it came (JSON or form): the payment is then confirmed at once and the webhook
    // follows. LigdiCash does not retry, so answer 200 regardless.
    try {
        http_post(env('RECONCILER_API_URL') . '/callbacks/ligdicash', $body,
                  ['Content-Type: ' . ($_SERVER['CONTENT_TYPE'] ?? 'application/json')], 5);
    } catch (RuntimeException $e) {
        error_log('shop: callback not forwarded (' . $e->getMessage() . '); '
                  . 'the reconciler polls anyway');
    }
    answer(200, ['received' => true]);
}

function webhook(string $body): void
{
    try {
        $event = verify_webhook(env('SHOP_WEBHOOK_SECRET'), $body);
    } catch (UnexpectedValueException $e) {
        error_log('shop: webhook rejected: ' . $e->getMessage());
        answer(401, ['error' => $e->getMessage()]);
        return;
    }
    try {
        apply_event(shop_db(), $event);
    } catch (Throwable $e) { // a bug or a locked database: 500, and the reconciler retries
        error_log("shop: webhook {$event['id']} not applied: " . $e->getMessage());
        answer(500, ['error' => 'not applied, retry']);
        return;
    }
    answer(204, null); // any 2xx: delivered
}

$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
$method = $_SERVER['REQUEST_METHOD'];
$body = file_get_contents('php://input');
if ($method === 'POST' && $path === '/orders') {
    new_order($body);
} elseif ($method === 'POST' && $path === '/ligdicash/callback') {
    forward_callback($body);
} elseif ($method === 'POST' && $path === '/webhooks/ligdicash') {
    webhook($body);
} elseif ($method === 'GET' && str_starts_with($path, '/orders/')) {
    $db = shop_db();
    $find = $db->prepare('SELECT o.*,
                                 (SELECT count(*) FROM shipments s WHERE s.order_id = o.id) AS shipments
                          FROM orders o WHERE reference = ?');
    $find->execute([substr($path, strlen('/orders/'))]);
    $order = $find->fetch();
    $order ? answer(200, $order) : answer(404, ['error' => 'no such order']);
} else {
    answer(404, ['error' => 'no such route']);
}
