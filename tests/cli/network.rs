//! The network between the reconciler and LigdiCash: HTTPS with the server's certificate
//! verified, and an HTTP proxy named in the environment.

use crate::helpers::*;
use ligdicash_reconciler::sandbox::Outcome;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The test CA that issued `server.pem` (for 127.0.0.1); no system trusts it.
const TEST_CA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls/ca.pem");

/// An HTTPS front for the sandbox on loopback; counts the TLS handshakes it completed.
async fn https_front(backend: SocketAddr) -> (String, Arc<AtomicUsize>) {
    let certs = CertificateDer::pem_slice_iter(include_bytes!("../fixtures/tls/server.pem"))
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(include_bytes!("../fixtures/tls/server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let handshakes = Arc::new(AtomicUsize::new(0));
    let counter = handshakes.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, counter) = (acceptor.clone(), counter.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                let mut upstream = TcpStream::connect(backend).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
            });
        }
    });
    (url, handshakes)
}

/// LigdiCash over HTTPS: a certificate from an unknown issuer is refused before any
/// request is sent (the payment stays pending, the error names the certificate); once the
/// issuer is trusted (`SSL_CERT_FILE`, read by the system trust store), the same payment
/// is reconciled.
#[tokio::test]
async fn https_certificates_are_verified_against_the_system_trust_store() {
    let mut env = TestEnv::start().await;
    let (url, handshakes) = https_front(env.sandbox.addr).await;
    env.config.ligdicash.base_url = url;
    env.write_config();
    let token = env.invoice(Outcome::Completed, 100, "ORD-TLS").await;

    let child = env
        .cmd(&["run"])
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .spawn()
        .unwrap();
    eventually(Duration::from_secs(10), || env.calls("connect") >= 2).await;
    terminate(&child);
    finished(child).await;
    let p = env.show(&token).await;
    assert_eq!(p["status"], "pending", "{p}");
    assert!(
        p["last_error"].as_str().unwrap().contains("certificate"),
        "{p}"
    );
    assert_eq!(
        handshakes.load(Ordering::SeqCst),
        0,
        "no handshake completed"
    );

    let out = env
        .cmd(&["run", "--until-idle"])
        .env("SSL_CERT_FILE", TEST_CA)
        .output()
        .await
        .unwrap();
    assert_ok(&out);
    assert_eq!(env.show(&token).await["status"], "completed");
    assert!(handshakes.load(Ordering::SeqCst) >= 1);
}

/// A shop whose server reaches the internet through a proxy: `HTTP_PROXY` carries the
/// confirm calls (in absolute form, as proxies expect) and payments are reconciled.
#[tokio::test]
async fn an_http_proxy_named_in_the_environment_carries_the_confirms() {
    let env = TestEnv::start().await;
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    let forward = reqwest::Client::builder().no_proxy().build().unwrap();
    let proxy = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let (log, forward) = (log.clone(), forward.clone());
        async move {
            let target = req.uri().to_string();
            log.lock().unwrap().push(target.clone());
            let mut upstream = forward.get(&target);
            for (name, value) in req.headers() {
                upstream = upstream.header(name, value);
            }
            let answer = upstream.send().await.unwrap();
            let status = answer.status().as_u16();
            let body = answer.bytes().await.unwrap();
            (axum::http::StatusCode::from_u16(status).unwrap(), body)
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, proxy).await });
    let token = env.invoice(Outcome::Completed, 100, "ORD-PROXY").await;

    let out = env
        .cmd(&["run", "--until-idle"])
        .env("HTTP_PROXY", &proxy_url)
        .output()
        .await
        .unwrap();
    assert_ok(&out);
    assert!(stderr(&out).contains("route=\"proxy\""), "{}", stderr(&out));
    assert_eq!(env.show(&token).await["status"], "completed");
    let seen = seen.lock().unwrap();
    let confirm = format!(
        "{}/pay/v01/redirect/checkout-invoice/confirm/?invoiceToken={token}",
        env.sandbox.base_url()
    );
    assert!(seen.contains(&confirm), "{seen:?}");
}
