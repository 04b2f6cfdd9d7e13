//! An HTTPS receiver on 127.0.0.1 for tests: a self-signed certificate made at start (so no
//! client trusts it unless told not to check), TLS by rustls with `ring`, the provider
//! reqwest's rustls-tls uses, and every request answered 200 and recorded.

use axum::body::Bytes;
use axum::http::Uri;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use tokio_rustls::server::TlsStream;

/// One request as the receiver saw it.
#[derive(Clone, Debug)]
pub struct Call {
    /// The request's path.
    pub path: String,
    /// The request's body.
    pub body: Bytes,
}

/// A receiver at `https://127.0.0.1:<port>` whose certificate is signed by nobody.
#[derive(Debug)]
pub struct HttpsReceiver {
    /// `https://127.0.0.1:<port>`, without a trailing slash.
    pub base: String,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl HttpsReceiver {
    /// Starts the receiver on a free port; it runs until the test's runtime ends.
    pub async fn start() -> Self {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("a self-signed certificate");
        let chain = vec![CertificateDer::from(certified.cert.der().to_vec())];
        let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
        // The provider named here rather than taken from the process default, which rustls
        // cannot pick by itself when more than one provider feature is on.
        let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("rustls' default protocol versions")
            .with_no_client_auth()
            .with_single_cert(chain, key.into())
            .expect("the certificate and its key");

        let calls: Arc<Mutex<Vec<Call>>> = Arc::default();
        let recorded = calls.clone();
        let handler = move |uri: Uri, body: Bytes| {
            let recorded = recorded.clone();
            async move {
                recorded.lock().unwrap().push(Call { path: uri.path().to_owned(), body });
                "ok"
            }
        };
        let app = axum::Router::new().fallback(handler);
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = tcp.local_addr().unwrap();
        let listener = TlsListener { tcp, acceptor: TlsAcceptor::from(Arc::new(config)) };
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base: format!("https://{address}"), calls }
    }

    /// The requests received so far.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

/// TCP connections that completed a TLS handshake. A client refusing the certificate ends its
/// own handshake; that connection is dropped and the next one awaited.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            // Handshakes one at a time: enough for tests, whose clients do not stall.
            let Ok((stream, peer)) = self.tcp.accept().await else { continue };
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, peer);
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}
